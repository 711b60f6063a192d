#!/usr/bin/env python3
"""Build medcap's tiny random-weight Qwen2-VL model and its PyTorch reference tokens.

The model is a real Qwen2-VL (transformers' Qwen2VLForConditionalGeneration) shrunk to a
couple of layers of width 32, with a small byte-level BPE tokenizer of its own that knows
the Qwen2-VL special tokens and a Qwen2-VL-shaped chat template. It is exported to the
three ONNX graphs Transformers.js loads for qwen2_vl:

    onnx/vision_encoder.onnx        pixel_values [patches, 1176], grid_thw [images, 3] -> image_features
    onnx/embed_tokens.onnx          input_ids [batch, seq] -> inputs_embeds
    onnx/decoder_model_merged.onnx  inputs_embeds, attention_mask, position_ids [3, batch, seq],
                                    past_key_values.{i}.key|value -> logits, present.{i}.key|value

The decoder and vision graphs are exported from small wrappers written here, not from the
library's forward: tracing the library's forward bakes the traced past length, the mask and
the per-image Python loop into constants. Every graph is checked against PyTorch with
ONNX Runtime, and a greedy loop over the ONNX graphs (doing what Transformers.js does) is
checked token for token against `generate`.

Needs: torch, transformers 5.x, tokenizers, onnx, onnxruntime, numpy, pillow, jinja2.
Remake (see models/tiny-qwen2-vl/README.md):

    python3 tools/make_tiny_qwen2vl.py --out models/tiny-qwen2-vl \
        --fixtures test/fixtures/tiny-qwen2-vl

Everything runs on the CPU in float32 and is seeded, so a rerun gives the same files
(up to ONNX serialisation details).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
import traceback

import numpy as np

T0 = time.time()


def log(*args):
    print(f"[{time.time() - T0:6.1f}s]", *args, flush=True)


# --------------------------------------------------------------------------------------
# Fixed choices
# --------------------------------------------------------------------------------------

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
TOK = {t: i for i, t in enumerate(SPECIAL_TOKENS)}

# A Qwen2-VL-shaped chat template: default system turn, images as
# <|vision_start|><|image_pad|><|vision_end|>, then the text, then the assistant turn.
# Newlines are real newline characters; no whitespace control is needed.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen2's pre-tokenizer split pattern (contractions, letters, single digits, punctuation runs, spaces).
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# The medcap default prompt (src/config/schema.ts), used for the reference cases.
DEFAULT_PROMPT = (
    "Describe this medical image in one concise sentence, as a radiology figure caption: "
    "the imaging modality, the body region and the main finding."
)

CORPUS = [
    "You are a helpful assistant.",
    "system user assistant",
    DEFAULT_PROMPT,
    "Describe this medical image.",
    "Chest X-ray showing a right lower lobe consolidation.",
    "Axial CT of the abdomen showing a hypodense lesion in the liver.",
    "Sagittal T2-weighted MRI of the lumbar spine with disc herniation at L4-L5.",
    "Coronal CT image demonstrating a left renal mass.",
    "Ultrasound of the gallbladder showing multiple gallstones with posterior acoustic shadowing.",
    "Frontal chest radiograph with bilateral pleural effusions and cardiomegaly.",
    "Contrast-enhanced axial CT scan of the brain shows a ring-enhancing lesion.",
    "Non-contrast head CT demonstrates an acute subdural hematoma.",
    "MRI of the knee shows a tear of the medial meniscus.",
    "Lateral radiograph of the cervical spine with no fracture.",
    "Axial T1-weighted image after gadolinium shows enhancement of the mass.",
    "Doppler ultrasound of the carotid artery demonstrates stenosis.",
    "PET-CT shows increased uptake in the mediastinal lymph nodes.",
    "Mammogram with a spiculated mass in the upper outer quadrant.",
    "Abdominal radiograph showing dilated small bowel loops.",
    "CT angiography reveals a pulmonary embolism in the right main pulmonary artery.",
    "Echocardiography shows a large pericardial effusion.",
    "The arrow indicates a small nodule in the left upper lobe.",
    "Follow-up CT after treatment shows a reduction of the tumor.",
    "Pelvic MRI with a uterine fibroid.",
    "Radiograph of the hand showing a fracture of the fifth metacarpal.",
    "Thoracic CT with ground-glass opacities in both lungs.",
    "Normal findings; no acute abnormality.",
    "Red arrows: lesion; white arrowhead: vessel (1.5 cm, 2 mm).",
    "Figure 1: axial, coronal and sagittal views of the pelvis.",
]

TEXT_CONFIG = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    hidden_act="silu",
    max_position_embeddings=4096,
    rms_norm_eps=1e-6,
    use_sliding_window=False,
    attention_dropout=0.0,
    tie_word_embeddings=False,
)
ROPE_THETA = 10000.0
MROPE_SECTION = [4, 2, 2]  # sums to head_dim / 2 = 8
VISION_CONFIG = dict(
    depth=2,
    embed_dim=32,
    hidden_size=32,
    hidden_act="quick_gelu",
    mlp_ratio=2,
    num_heads=2,
    in_channels=3,
    patch_size=14,
    spatial_merge_size=2,
    temporal_patch_size=2,
)
IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073]
IMAGE_STD = [0.26862954, 0.26130258, 0.27577711]
MIN_PIXELS = 56 * 56
MAX_PIXELS = 448 * 448

# Reference images: an integer recipe that the TypeScript tests reproduce exactly.
IMAGE_RECIPE = (
    "r = (3x + 5y + 40k) % 256; g = (x*y + 7x + 17k) % 256; "
    "b = (29*floor(x/7) + 31*floor(y/7) + 73k) % 256; x = column, y = row"
)
REF_IMAGES = [
    dict(k=0, width=84, height=56),
    dict(k=1, width=84, height=56),
    dict(k=2, width=84, height=56),
    dict(k=3, width=84, height=56),
    dict(k=4, width=56, height=112),
    dict(k=5, width=56, height=112),
]
MAX_NEW_TOKENS = 24


def make_image(k: int, width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    r = (3 * x + 5 * y + 40 * k) % 256
    g = (x * y + 7 * x + 17 * k) % 256
    b = (29 * (x // 7) + 31 * (y // 7) + 73 * k) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


# --------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------


def build_tokenizer(vocab_size: int, corpus: list[str] | None = None):
    """Byte-level BPE with the Qwen2 split pattern, trained on `corpus` (default: CORPUS)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3 if corpus is None else corpus, trainer=trainer)
    for name, idx in TOK.items():
        assert tok.token_to_id(name) == idx, (name, tok.token_to_id(name))
    return tok


def tokenizer_config() -> dict:
    return {
        "tokenizer_class": "Qwen2Tokenizer",
        "model_max_length": 32768,
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "split_special_tokens": False,
        "bos_token": None,
        "unk_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "additional_special_tokens": SPECIAL_TOKENS[1:],
        "added_tokens_decoder": {
            str(i): {
                "content": t,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for i, t in enumerate(SPECIAL_TOKENS)
        },
        "chat_template": CHAT_TEMPLATE,
    }


def preprocessor_config() -> dict:
    return {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor",
        "do_convert_rgb": True,
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": IMAGE_MEAN,
        "image_std": IMAGE_STD,
        "min_pixels": MIN_PIXELS,
        "max_pixels": MAX_PIXELS,
        "size": {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "resample": 3,
    }


def render_chat(prompt: str) -> str:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    return env.from_string(CHAT_TEMPLATE).render(messages=messages, add_generation_prompt=True)


# --------------------------------------------------------------------------------------
# Pixel values exactly as Qwen2VLImageProcessor builds them (no resize: the inputs are
# already multiples of 28). Used as the fallback and as a cross-check of the processor.
# --------------------------------------------------------------------------------------


def manual_pixel_values(img: np.ndarray) -> tuple[np.ndarray, list[int]]:
    h, w, _ = img.shape
    p, m, tp = 14, 2, 2
    x = img.astype(np.float32) * np.float32(1 / 255)
    x = (x - np.array(IMAGE_MEAN, np.float32)) / np.array(IMAGE_STD, np.float32)
    x = x.transpose(2, 0, 1)[None]  # [1, C, H, W]
    x = np.concatenate([x] * tp, axis=0)  # [T, C, H, W]
    gh, gw = h // p, w // p
    x = x.reshape(1, tp, 3, gh // m, m, p, gw // m, m, p)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gh * gw, 3 * tp * p * p), [1, gh, gw]


# --------------------------------------------------------------------------------------
# M-RoPE positions as Transformers.js computes them (one image per row)
# --------------------------------------------------------------------------------------


def rope_index(ids: np.ndarray, grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b, s = ids.shape
    pos = np.zeros((3, b, s), np.int64)
    deltas = np.zeros((b, 1), np.int64)
    for r in range(b):
        row = ids[r]
        img_at = np.nonzero(row == TOK["<|image_pad|>"])[0]
        t, gh, gw = (int(v) for v in grids[r])
        lh, lw = gh // 2, gw // 2
        st = int(img_at[0])
        n = t * lh * lw
        assert len(img_at) == n and img_at[-1] == st + n - 1
        pos[:, r, :st] = np.arange(st)
        k = np.arange(n)
        pos[0, r, st : st + n] = st + k // (lh * lw)
        pos[1, r, st : st + n] = st + (k // lw) % lh
        pos[2, r, st : st + n] = st + k % lw
        nxt = pos[:, r, st : st + n].max() + 1
        rest = s - (st + n)
        pos[:, r, st + n :] = nxt + np.arange(rest)
        deltas[r, 0] = pos[:, r].max() + 1 - s
    return pos, deltas


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


def make_config(vocab_size: int, legacy_rope: bool, text_config=None, vision_config=None, mrope_section=None):
    from transformers import Qwen2VLConfig

    mrope_section = mrope_section or MROPE_SECTION
    text = dict(text_config or TEXT_CONFIG)
    text.update(
        vocab_size=vocab_size,
        bos_token_id=TOK["<|endoftext|>"],
        eos_token_id=TOK["<|im_end|>"],
        pad_token_id=TOK["<|endoftext|>"],
    )
    if legacy_rope:
        text.update(rope_theta=ROPE_THETA, rope_scaling={"type": "mrope", "mrope_section": mrope_section})
    else:
        text.update(
            rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA, "mrope_section": mrope_section}
        )
    return Qwen2VLConfig(
        text_config=text,
        vision_config=dict(vision_config or VISION_CONFIG),
        image_token_id=TOK["<|image_pad|>"],
        video_token_id=TOK["<|video_pad|>"],
        vision_start_token_id=TOK["<|vision_start|>"],
        vision_end_token_id=TOK["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def qwen2vl_config(vocab_size: int, text_config=None, vision_config=None, mrope_section=None):
    """A Qwen2VLConfig whose M-RoPE sections took (new `rope_parameters`, else the legacy field)."""
    want = list(mrope_section or MROPE_SECTION)
    config = None
    for legacy in (False, True):
        config = make_config(vocab_size, legacy, text_config, vision_config, want)
        if find_mrope_section_in(config) == want:
            return config
    raise RuntimeError(f"mrope_section did not take: {find_mrope_section_in(config)}")


def set_greedy_generation(model) -> None:
    """Greedy decoding that stops at <|im_end|> or <|endoftext|>, as medcap's engine does."""
    gc = model.generation_config
    gc.eos_token_id = [TOK["<|im_end|>"], TOK["<|endoftext|>"]]
    gc.pad_token_id = TOK["<|endoftext|>"]
    gc.bos_token_id = TOK["<|endoftext|>"]
    gc.do_sample = False
    for key in ("temperature", "top_p", "top_k"):
        if hasattr(gc, key):
            setattr(gc, key, None)


def build_model(vocab_size: int, seed: int, std: float, quiet_tokens: list[int]):
    """A tiny Qwen2-VL with seeded random weights of the given scale.

    Rows of the LM head for `quiet_tokens` (special tokens other than <|im_end|>, and byte
    tokens that do not decode to printable ASCII) are zeroed, so captions are readable text.
    """
    import torch
    from transformers import Qwen2VLForConditionalGeneration

    config = qwen2vl_config(vocab_size)
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).float().eval()
    try:
        model.set_attn_implementation("eager")
    except Exception as e:  # noqa: BLE001
        log("set_attn_implementation failed (kept default):", repr(e))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            lname = name.lower()
            if "norm" in lname or ".ln_" in lname:
                if lname.endswith("weight"):
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (std / math.sqrt(fan_in / 32)))
            else:
                p.copy_(0.5 * std * torch.randn(p.shape, generator=gen))
        head = model.lm_head.weight
        head[quiet_tokens] = 0
        head[TOK["<|im_end|>"]] *= 1.3
    set_greedy_generation(model)
    return model


def quiet_token_ids(tok) -> list[int]:
    quiet = [i for t, i in TOK.items() if t != "<|im_end|>"]
    for i in range(len(SPECIAL_TOKENS), tok.get_vocab_size()):
        text = tok.decode([i], skip_special_tokens=False)
        if not text or any(not (32 <= ord(c) < 127) for c in text):
            quiet.append(i)
    return quiet


def find_mrope_section_in(config) -> list[int] | None:
    tc = config.text_config if hasattr(config, "text_config") else config
    for attr in ("rope_parameters", "rope_scaling"):
        v = getattr(tc, attr, None)
        if isinstance(v, dict) and v.get("mrope_section"):
            return list(v["mrope_section"])
    return None


def parts(model):
    inner = model.model
    visual = getattr(inner, "visual", None)
    lm = getattr(inner, "language_model", None)
    if visual is None or lm is None:
        raise RuntimeError(f"unexpected module layout: {[n for n, _ in inner.named_children()]}")
    return visual, lm, model.lm_head


def to_tensor_output(out, rows: int, width: int):
    """The library's vision forward returns a tensor in some versions, an output object in others."""
    import torch

    if isinstance(out, torch.Tensor):
        return out
    cands = []
    if isinstance(out, (tuple, list)):
        cands = list(out)
    else:
        for key in ("pooler_output", "last_hidden_state", "image_embeds"):
            v = getattr(out, key, None)
            if v is not None:
                cands.append(v)
        if hasattr(out, "to_tuple"):
            cands += list(out.to_tuple())
    for c in cands:
        if isinstance(c, torch.Tensor) and tuple(c.shape) == (rows, width):
            return c
    if cands and all(isinstance(c, torch.Tensor) for c in cands):
        cat = torch.cat([c.reshape(-1, width) for c in cands if c.shape[-1] == width], 0)
        if cat.shape[0] == rows:
            return cat
    raise RuntimeError(f"cannot find image features in {type(out)}")


def make_wrappers(model, mrope_section):
    import torch
    from torch import nn

    visual, lm, lm_head = parts(model)
    vc = model.config.vision_config
    tc = model.config.text_config
    n_heads = tc.num_attention_heads
    n_kv = tc.num_key_value_heads
    head_dim = getattr(tc, "head_dim", None) or tc.hidden_size // n_heads
    n_rep = n_heads // n_kv

    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    class VisionWrapper(nn.Module):
        """Vision tower for a batch of images that share one grid (grid_thw[0])."""

        def __init__(self):
            super().__init__()
            self.visual = visual

        def forward(self, pixel_values, grid_thw):
            v = self.visual
            m = getattr(v, "spatial_merge_size", None) or vc.spatial_merge_size
            x = v.patch_embed(pixel_values)
            n_images = grid_thw.shape[0]
            h = grid_thw[0, 1]
            w = grid_thw[0, 2]
            idx = torch.cumsum(torch.ones_like(x[:, 0], dtype=torch.int64), 0) - 1
            local = idx % (h * w)
            block = torch.div(local, m * m, rounding_mode="floor")
            r = local % (m * m)
            wb = torch.div(w, m, rounding_mode="floor")
            hpos = torch.div(block, wb, rounding_mode="floor") * m + torch.div(r, m, rounding_mode="floor")
            wpos = (block % wb) * m + r % m
            inv = v.rotary_pos_emb.inv_freq.float()
            rot = torch.cat([hpos.float()[:, None] * inv[None, :], wpos.float()[:, None] * inv[None, :]], dim=-1)
            emb = torch.cat([rot, rot], dim=-1)
            cos = emb.cos()[:, None, :]
            sin = emb.sin()[:, None, :]
            for blk in v.blocks:
                a = blk.attn
                nh = getattr(a, "num_heads", None) or vc.num_heads
                hs = blk.norm1(x)
                n = hs.shape[0]
                qkv = a.qkv(hs).reshape(n, 3, nh, -1).permute(1, 0, 2, 3)
                q, k, val = qkv[0], qkv[1], qkv[2]
                hd = q.shape[-1]
                q = q * cos + rotate_half(q) * sin
                k = k * cos + rotate_half(k) * sin
                q = q.reshape(n_images, -1, nh, hd).transpose(1, 2)
                k = k.reshape(n_images, -1, nh, hd).transpose(1, 2)
                val = val.reshape(n_images, -1, nh, hd).transpose(1, 2)
                scores = torch.matmul(q, k.transpose(-1, -2)) * (hd**-0.5)
                probs = torch.softmax(scores.float(), dim=-1)
                o = torch.matmul(probs, val).transpose(1, 2).reshape(n, nh * hd)
                x = x + a.proj(o)
                x = x + blk.mlp(blk.norm2(x))
            return v.merger(x)

    class EmbedWrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = model.get_input_embeddings()

        def forward(self, input_ids):
            return self.embed(input_ids)

    class DecoderWrapper(nn.Module):
        """Embeddings in, logits and the grown KV cache out, with an explicit mask."""

        def __init__(self):
            super().__init__()
            self.layers = lm.layers
            self.norm = lm.norm
            self.rotary = lm.rotary_emb
            self.lm_head = lm_head

        def forward(self, inputs_embeds, attention_mask, position_ids, *past):
            b, s = inputs_embeds.shape[0], inputs_embeds.shape[1]
            # Key positions 0..T-1 (T = past + new), query positions = the last s of them.
            kpos = torch.cumsum(torch.ones_like(attention_mask), dim=1) - 1
            qidx = torch.cumsum(torch.ones_like(inputs_embeds[:, :, 0], dtype=torch.int64), dim=1) - 1
            qpos = qidx + kpos[:, -1:] - qidx[:, -1:]
            allowed = (kpos[:, None, :] <= qpos[:, :, None]) & (attention_mask[:, None, :] > 0)
            allowed = allowed[:, None, :, :]
            neg = torch.tensor(torch.finfo(torch.float32).min, dtype=torch.float32, device=inputs_embeds.device)

            cos, sin = self.rotary(inputs_embeds, position_ids)
            if cos.dim() == 4:  # [3, b, s, d]: pick the t/h/w sections
                sec = list(mrope_section) * 2
                cos = torch.cat([c[i % 3] for i, c in enumerate(cos.split(sec, dim=-1))], dim=-1)
                sin = torch.cat([c[i % 3] for i, c in enumerate(sin.split(sec, dim=-1))], dim=-1)
            cos = cos[:, None, :, :]
            sin = sin[:, None, :, :]

            x = inputs_embeds
            presents = []
            for i, layer in enumerate(self.layers):
                at = layer.self_attn
                hs = layer.input_layernorm(x)
                q = at.q_proj(hs).view(b, s, n_heads, head_dim).transpose(1, 2)
                k = at.k_proj(hs).view(b, s, n_kv, head_dim).transpose(1, 2)
                v = at.v_proj(hs).view(b, s, n_kv, head_dim).transpose(1, 2)
                q = q * cos + rotate_half(q) * sin
                k = k * cos + rotate_half(k) * sin
                k = torch.cat([past[2 * i], k], dim=2)
                v = torch.cat([past[2 * i + 1], v], dim=2)
                presents += [k, v]
                t = k.shape[2]
                kr = k[:, :, None, :, :].expand(b, n_kv, n_rep, t, head_dim).reshape(b, n_heads, t, head_dim)
                vr = v[:, :, None, :, :].expand(b, n_kv, n_rep, t, head_dim).reshape(b, n_heads, t, head_dim)
                scores = torch.matmul(q, kr.transpose(2, 3)) * (head_dim**-0.5)
                scores = torch.where(allowed, scores, neg)
                probs = torch.softmax(scores.float(), dim=-1)
                o = torch.matmul(probs, vr).transpose(1, 2).reshape(b, s, n_heads * head_dim)
                x = x + at.o_proj(o)
                x = x + layer.mlp(layer.post_attention_layernorm(x))
            logits = self.lm_head(self.norm(x))
            return (logits, *presents)

    info = dict(n_heads=n_heads, n_kv=n_kv, head_dim=head_dim, n_layers=len(lm.layers))
    return VisionWrapper().eval(), EmbedWrapper().eval(), DecoderWrapper().eval(), info


# --------------------------------------------------------------------------------------
# Inputs and PyTorch reference generation
# --------------------------------------------------------------------------------------


class Inputs:
    def __init__(self, processor, tokenizer, prompt):
        self.processor = processor
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.text = render_chat(prompt)

    def build(self, image_specs):
        """input_ids [B, S], attention_mask, pixel_values [N, 1176], image_grid_thw [B, 3], mm_token_type_ids."""
        import torch

        imgs = [make_image(**spec) for spec in image_specs]
        used = "manual"
        if self.processor is not None:
            from PIL import Image

            try:
                out = self.processor(
                    text=[self.text] * len(imgs),
                    images=[Image.fromarray(a, "RGB") for a in imgs],
                    return_tensors="pt",
                    do_resize=False,
                )
                ids = out["input_ids"].long()
                pv = out["pixel_values"].float()
                grid = out["image_grid_thw"].long()
                used = "transformers"
            except Exception as e:  # noqa: BLE001
                log("processor call failed, using the manual path:", repr(e))
                self.processor = None
        if used == "manual":
            pvs, grids = zip(*(manual_pixel_values(a) for a in imgs))
            rows = []
            for g in grids:
                n = g[0] * g[1] * g[2] // 4
                text = self.text.replace("<|image_pad|>", "<|image_pad|>" * n)
                rows.append(self.tokenizer.encode(text).ids)
            ids = torch.tensor(rows, dtype=torch.long)
            pv = torch.from_numpy(np.concatenate(pvs, 0))
            grid = torch.tensor(grids, dtype=torch.long)
        # Cross-check the pixel values against the manual Qwen2VLImageProcessor recipe.
        man = np.concatenate([manual_pixel_values(a)[0] for a in imgs], 0)
        pix_diff = float(np.abs(man - pv.numpy()).max())
        mm = (ids == TOK["<|image_pad|>"]).long()
        return dict(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            pixel_values=pv,
            image_grid_thw=grid,
            mm_token_type_ids=mm,
            source=used,
            pixel_diff_vs_manual=pix_diff,
        )


def hf_generate(model, inp, max_new_tokens):
    import torch

    kwargs = dict(
        input_ids=inp["input_ids"],
        attention_mask=inp["attention_mask"],
        pixel_values=inp["pixel_values"],
        image_grid_thw=inp["image_grid_thw"],
        max_new_tokens=max_new_tokens,
        min_new_tokens=0,
        do_sample=False,
        num_beams=1,
        output_scores=True,
        return_dict_in_generate=True,
    )
    with torch.no_grad():
        try:
            out = model.generate(mm_token_type_ids=inp["mm_token_type_ids"], **kwargs)
        except (TypeError, ValueError) as e:
            log("generate rejected mm_token_type_ids, retrying without:", repr(e))
            out = model.generate(**kwargs)
    s = inp["input_ids"].shape[1]
    seqs = out.sequences[:, s:].tolist()
    scores = torch.stack(list(out.scores), 1)  # [B, steps, V]
    eos = {TOK["<|im_end|>"], TOK["<|endoftext|>"]}
    tokens, margins = [], []
    for r, row in enumerate(seqs):
        cut = []
        for step, t in enumerate(row):
            top = torch.topk(scores[r, step], 2).values
            margins.append(float(top[0] - top[1]))
            cut.append(t)
            if t in eos:
                break
        tokens.append(cut)
    return tokens, margins


def decode(tokenizer, ids):
    return tokenizer.decode(ids, skip_special_tokens=True).strip()


# --------------------------------------------------------------------------------------
# ONNX export and checks
# --------------------------------------------------------------------------------------


def export_all(vision, embed, decoder, info, hidden, onnx_dir):
    import torch

    os.makedirs(onnx_dir, exist_ok=True)
    common = dict(opset_version=18, dynamo=False, do_constant_folding=True)

    pv, grid = manual_pixel_values(make_image(0, 84, 56))
    pv = torch.from_numpy(np.concatenate([pv, pv], 0))
    grid = torch.tensor([grid, grid], dtype=torch.long)
    torch.onnx.export(
        vision,
        (pv, grid),
        os.path.join(onnx_dir, "vision_encoder.onnx"),
        input_names=["pixel_values", "grid_thw"],
        output_names=["image_features"],
        dynamic_axes={
            "pixel_values": {0: "num_patches"},
            "grid_thw": {0: "num_images"},
            "image_features": {0: "num_image_tokens"},
        },
        **common,
    )
    log("exported vision_encoder.onnx")

    ids = torch.tensor([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]], dtype=torch.long)
    torch.onnx.export(
        embed,
        (ids,),
        os.path.join(onnx_dir, "embed_tokens.onnx"),
        input_names=["input_ids"],
        output_names=["inputs_embeds"],
        dynamic_axes={
            "input_ids": {0: "batch_size", 1: "sequence_length"},
            "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
        },
        **common,
    )
    log("exported embed_tokens.onnx")

    b, s, past_len = 2, 5, 3
    emb = torch.randn(b, s, hidden)
    mask = torch.ones(b, past_len + s, dtype=torch.long)
    pos = torch.arange(past_len, past_len + s).view(1, 1, s).expand(3, b, s).contiguous()
    past = []
    names_in, names_out = [], []
    axes = {
        "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {1: "batch_size", 2: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for i in range(info["n_layers"]):
        for kind in ("key", "value"):
            past.append(torch.randn(b, info["n_kv"], past_len, info["head_dim"]))
            names_in.append(f"past_key_values.{i}.{kind}")
            names_out.append(f"present.{i}.{kind}")
            axes[names_in[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            axes[names_out[-1]] = {0: "batch_size", 2: "total_sequence_length"}
    torch.onnx.export(
        decoder,
        (emb, mask, pos, *past),
        os.path.join(onnx_dir, "decoder_model_merged.onnx"),
        input_names=["inputs_embeds", "attention_mask", "position_ids", *names_in],
        output_names=["logits", *names_out],
        dynamic_axes=axes,
        **common,
    )
    log("exported decoder_model_merged.onnx")
    # Keep everything in one file per graph (Transformers.js loads the .onnx alone).
    for f in os.listdir(onnx_dir):
        if not f.endswith(".onnx"):
            raise RuntimeError(f"unexpected external data file {f}")


class OrtModel:
    def __init__(self, onnx_dir, info):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3
        mk = lambda n: ort.InferenceSession(os.path.join(onnx_dir, n), so, providers=["CPUExecutionProvider"])  # noqa: E731
        self.vision = mk("vision_encoder.onnx")
        self.embed = mk("embed_tokens.onnx")
        self.decoder = mk("decoder_model_merged.onnx")
        self.info = info

    def image_features(self, pv, grid):
        return self.vision.run(None, {"pixel_values": pv.astype(np.float32), "grid_thw": grid.astype(np.int64)})[0]

    def embeds(self, ids):
        return self.embed.run(None, {"input_ids": ids.astype(np.int64)})[0]

    def generate(self, ids, pv, grid, max_new_tokens):
        """Greedy decoding the way Transformers.js drives these graphs."""
        b, s = ids.shape
        emb = self.embeds(ids)
        feats = self.image_features(pv, grid)
        emb[ids == TOK["<|image_pad|>"]] = feats
        pos, deltas = rope_index(ids, grid)
        info = self.info
        past = {}
        for i in range(info["n_layers"]):
            for kind in ("key", "value"):
                past[f"past_key_values.{i}.{kind}"] = np.zeros((b, info["n_kv"], 0, info["head_dim"]), np.float32)
        mask = np.ones((b, s), np.int64)
        eos = {TOK["<|im_end|>"], TOK["<|endoftext|>"]}
        done = [False] * b
        out = [[] for _ in range(b)]
        for _ in range(max_new_tokens):
            res = self.decoder.run(None, {"inputs_embeds": emb, "attention_mask": mask, "position_ids": pos, **past})
            nxt = res[0][:, -1, :].argmax(-1)
            for r in range(b):
                if not done[r]:
                    out[r].append(int(nxt[r]))
                    done[r] = int(nxt[r]) in eos
            if all(done):
                break
            names = [n for n in (o.name for o in self.decoder.get_outputs()) if n.startswith("present.")]
            for n, v in zip(names, res[1:]):
                past[n.replace("present.", "past_key_values.")] = v
            t = mask.shape[1]
            emb = self.embeds(nxt[:, None].astype(np.int64))
            mask = np.ones((b, t + 1), np.int64)
            step = (deltas + t).reshape(1, b, 1)
            pos = np.broadcast_to(step, (3, b, 1)).astype(np.int64).copy()
        return out


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def pixel_stats(pv: np.ndarray) -> dict:
    flat = pv.reshape(-1).astype(np.float64)
    return {
        "shape": list(pv.shape),
        "sum": float(flat.sum()),
        "sumAbs": float(np.abs(flat).sum()),
        "first": [float(v) for v in flat[:8]],
        "at": {str(i): float(flat[i]) for i in (0, 1, 196, 1175, 1176, 5000, len(flat) - 1) if i < len(flat)},
    }


def write_model_configs(model, out: str, vocab_size: int, about: dict) -> dict:
    """config.json and generation_config.json for Transformers.js; returns the generation config.

    Text settings are repeated at the top level, as the published Qwen2-VL ONNX configs have them.
    `about` is recorded under "medcap_tiny_model".
    """
    cfg = model.config.to_dict()
    text_cfg = dict(cfg.get("text_config") or {})
    for key, value in text_cfg.items():
        if key not in ("model_type", "architectures") and key not in cfg:
            cfg[key] = value
    cfg["model_type"] = "qwen2_vl"
    cfg["architectures"] = ["Qwen2VLForConditionalGeneration"]
    cfg["image_token_id"] = TOK["<|image_pad|>"]
    cfg["video_token_id"] = TOK["<|video_pad|>"]
    cfg["vision_start_token_id"] = TOK["<|vision_start|>"]
    cfg["vision_end_token_id"] = TOK["<|vision_end|>"]
    cfg["vocab_size"] = vocab_size
    cfg["use_cache"] = True
    cfg["transformers.js_config"] = {"dtype": "fp32"}
    cfg["medcap_tiny_model"] = about
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, default=str)
    gen_cfg = {
        "bos_token_id": TOK["<|endoftext|>"],
        "eos_token_id": [TOK["<|im_end|>"], TOK["<|endoftext|>"]],
        "pad_token_id": TOK["<|endoftext|>"],
        "do_sample": False,
    }
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen_cfg, f, indent=2)
    return gen_cfg


def write_tokenizer_files(tok, out: str) -> None:
    """tokenizer.json, tokenizer_config.json, chat_template.jinja and preprocessor_config.json."""
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(), f, indent=2)
    with open(os.path.join(out, "chat_template.jinja"), "w") as f:
        f.write(CHAT_TEMPLATE)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_config(), f, indent=2)


def write_readme(out: str, report: dict, vocab_size: int) -> None:
    v = report["versions"]
    text = f"""# tiny-qwen2-vl

A tiny **random-weight** Qwen2-VL for medcap's tests and `medcap demo`. It runs offline in a
fraction of a second per image; its captions are word salad from a small medical vocabulary,
not descriptions of the image.

- Architecture: Qwen2-VL (`Qwen2VLForConditionalGeneration`), text {TEXT_CONFIG['num_hidden_layers']} layers of
  width {TEXT_CONFIG['hidden_size']} ({TEXT_CONFIG['num_attention_heads']} heads, {TEXT_CONFIG['num_key_value_heads']} key/value head), vision tower {VISION_CONFIG['depth']} blocks of width
  {VISION_CONFIG['embed_dim']}, patch 14, merge 2; M-RoPE sections {MROPE_SECTION}.
- Tokenizer: byte-level BPE of {vocab_size} tokens with the Qwen2-VL special tokens and a
  Qwen2-VL-shaped chat template.
- Files: `onnx/vision_encoder.onnx`, `onnx/embed_tokens.onnx`, `onnx/decoder_model_merged.onnx`
  (fp32, the layout Transformers.js loads), `config.json`, `generation_config.json`,
  `preprocessor_config.json`, `tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`.
- Seed {report['chosen']['seed']}, weight scale {report['chosen']['std']}; built with torch {v.get('torch')},
  transformers {v.get('transformers')}, onnx {v.get('onnx')}, onnxruntime {v.get('onnxruntime')}.

PyTorch's greedy tokens for fixed inputs are in `test/fixtures/tiny-qwen2-vl/reference.json`;
medcap's tests check that the Transformers.js engine reproduces them exactly.

Remake (needs torch, transformers 5, tokenizers, onnx, onnxruntime, pillow, jinja2; CPU is enough):

    python3 tools/make_tiny_qwen2vl.py --out models/tiny-qwen2-vl --fixtures test/fixtures/tiny-qwen2-vl
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models/tiny-qwen2-vl")
    ap.add_argument("--fixtures", default="test/fixtures/tiny-qwen2-vl")
    ap.add_argument("--vocab-size", type=int, default=480)
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9,10,11")
    ap.add_argument("--stds", default="0.3,0.5,0.8")
    ap.add_argument("--min-margin", type=float, default=0.02)
    args = ap.parse_args()

    import torch
    import transformers

    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    report = {
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": sys.version.split()[0],
        }
    }
    try:
        import onnx
        import onnxruntime

        report["versions"].update(onnx=onnx.__version__, onnxruntime=onnxruntime.__version__)
    except Exception as e:  # noqa: BLE001
        report["versions"]["onnx_error"] = repr(e)
    log("versions", report["versions"])

    out = args.out
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    os.makedirs(args.fixtures, exist_ok=True)

    # 1. Tokenizer and processor files.
    tok = build_tokenizer(args.vocab_size)
    vocab_size = tok.get_vocab_size()
    write_tokenizer_files(tok, out)
    log("tokenizer vocab", vocab_size)
    sample = render_chat(DEFAULT_PROMPT)
    log("chat text:", json.dumps(sample))
    log("sample tokens:", len(tok.encode(sample).ids))

    # 2. Pick weights whose greedy choices are clear-cut (margins) and image-dependent.
    prompt = DEFAULT_PROMPT
    quiet = quiet_token_ids(tok)
    log("quiet tokens", len(quiet), "of", vocab_size)
    search_inputs = Inputs(None, tok, prompt)
    best = None

    def good(score):
        return score[0] and score[1] == len(REF_IMAGES) and score[2] == len(REF_IMAGES) and score[3] >= 1

    for std in (float(x) for x in args.stds.split(",")):
        for seed in (int(x) for x in args.seeds.split(",")):
            model = build_model(vocab_size, seed, std, quiet)
            caps, margins, tokens = [], [], []
            for spec in REF_IMAGES:
                t, m = hf_generate(model, search_inputs.build([spec]), MAX_NEW_TOKENS)
                tokens.append(t[0])
                margins += m
                caps.append(decode(tok, t[0]))
            distinct = len(set(caps))
            early = sum(1 for t in tokens if len(t) < MAX_NEW_TOKENS)
            nonempty = sum(1 for c in caps if c)
            score = (min(margins) >= args.min_margin, distinct, nonempty, min(1, early), min(margins))
            log(
                f"seed {seed} std {std}: min margin {min(margins):.4f} distinct {distinct} "
                f"early {early} nonempty {nonempty} first caption {caps[0]!r}"
            )
            if best is None or score > best[0]:
                best = (score, seed, std)
            if good(score):
                break
        if good(best[0]):
            break
    _, seed, std = best
    report["chosen"] = {"seed": seed, "std": std, "score": list(best[0])}
    log("chosen", report["chosen"])
    model = build_model(vocab_size, seed, std, quiet)
    report["mrope_section_in_config"] = find_mrope_section_in(model.config)

    # 3. Config files for Transformers.js.
    gen_cfg = write_model_configs(
        model,
        out,
        vocab_size,
        {
            "note": "random weights, for tests and demos only; made by tools/make_tiny_qwen2vl.py",
            "seed": seed,
            "std": std,
        },
    )

    # 4. The transformers processor over the files just written (falls back to the manual path).
    processor = None
    try:
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(out)
        hf_ids = processor.tokenizer(sample)["input_ids"]
        raw_ids = tok.encode(sample).ids
        report["hf_tokenizer_matches_raw"] = list(hf_ids) == list(raw_ids)
        report["processor_class"] = type(processor).__name__
        report["image_processor_class"] = type(processor.image_processor).__name__
    except Exception as e:  # noqa: BLE001
        report["processor_error"] = repr(e)
        traceback.print_exc()
    log("processor:", report.get("processor_class"), report.get("processor_error"))
    inputs = Inputs(processor, tok, prompt)

    # 5. Wrappers vs the library forward (PyTorch), then ONNX export and checks.
    vision, embed, decoder, info = make_wrappers(model, MROPE_SECTION)
    visual, _, _ = parts(model)
    checks = {}
    with torch.no_grad():
        for name, specs in {
            "vision_1x[1,4,6]": [REF_IMAGES[0]],
            "vision_3x[1,4,6]": REF_IMAGES[0:3],
            "vision_2x[1,8,4]": REF_IMAGES[4:6],
        }.items():
            inp = inputs.build(specs)
            rows = inp["pixel_values"].shape[0] // 4
            lib = to_tensor_output(visual(inp["pixel_values"], grid_thw=inp["image_grid_thw"]), rows, 32)
            mine = vision(inp["pixel_values"], inp["image_grid_thw"])
            checks[f"torch_wrapper_{name}"] = float((lib - mine).abs().max())
        inp = inputs.build(REF_IMAGES[0:2])
        fwd = dict(
            input_ids=inp["input_ids"],
            attention_mask=inp["attention_mask"],
            pixel_values=inp["pixel_values"],
            image_grid_thw=inp["image_grid_thw"],
            use_cache=False,
        )
        try:
            lib_logits = model(mm_token_type_ids=inp["mm_token_type_ids"], **fwd).logits
        except TypeError as e:
            log("forward rejected mm_token_type_ids:", repr(e))
            lib_logits = model(**fwd).logits
        ids = inp["input_ids"]
        emb = embed(ids).clone()
        emb[ids == TOK["<|image_pad|>"]] = vision(inp["pixel_values"], inp["image_grid_thw"])
        pos, _ = rope_index(ids.numpy(), inp["image_grid_thw"].numpy())
        past = []
        for _ in range(info["n_layers"]):
            past += [torch.zeros(ids.shape[0], info["n_kv"], 0, info["head_dim"])] * 2
        my_logits = decoder(emb, inp["attention_mask"], torch.from_numpy(pos), *past)[0]
        checks["torch_wrapper_decoder_prefill"] = float((lib_logits - my_logits).abs().max())
    log("torch checks", checks)

    onnx_dir = os.path.join(out, "onnx")
    export_all(vision, embed, decoder, info, TEXT_CONFIG["hidden_size"], onnx_dir)
    ortm = OrtModel(onnx_dir, info)
    with torch.no_grad():
        for name, specs in {
            "vision_1x[1,4,6]": [REF_IMAGES[0]],
            "vision_3x[1,4,6]": REF_IMAGES[0:3],
            "vision_4x[1,4,6]": REF_IMAGES[0:4],
            "vision_2x[1,8,4]": REF_IMAGES[4:6],
        }.items():
            inp = inputs.build(specs)
            ref = vision(inp["pixel_values"], inp["image_grid_thw"]).numpy()
            got = ortm.image_features(inp["pixel_values"].numpy(), inp["image_grid_thw"].numpy())
            checks[f"onnx_{name}"] = float(np.abs(ref - got).max())
        got = ortm.embeds(ids.numpy())
        checks["onnx_embed"] = float(np.abs(embed(ids).numpy() - got).max())
    log("onnx checks", checks)
    report["checks"] = checks

    # 6. Reference tokens: PyTorch generate (singles and one batch) vs the ONNX greedy loop.
    cases = []
    all_margins = []
    for name, idx in [(f"single-{i}", [i]) for i in range(len(REF_IMAGES))] + [
        ("batch-0-3", [0, 1, 2, 3]),
        ("batch-4-5", [4, 5]),
    ]:
        specs = [REF_IMAGES[i] for i in idx]
        inp = inputs.build(specs)
        tokens, margins = hf_generate(model, inp, MAX_NEW_TOKENS)
        all_margins += margins
        ort_tokens = ortm.generate(
            inp["input_ids"].numpy(), inp["pixel_values"].numpy(), inp["image_grid_thw"].numpy(), MAX_NEW_TOKENS
        )
        case = {
            "name": name,
            "images": idx,
            "inputIds": inp["input_ids"].tolist(),
            "gridThw": inp["image_grid_thw"].tolist(),
            "inputsFrom": inp["source"],
            "pixelDiffVsManual": inp["pixel_diff_vs_manual"],
            "pixelStats": pixel_stats(inp["pixel_values"].numpy()),
            "newTokens": tokens,
            "captions": [decode(tok, t) for t in tokens],
            "onnxGreedyMatches": ort_tokens == tokens,
            "minMargin": min(margins),
        }
        if ort_tokens != tokens:
            case["onnxTokens"] = ort_tokens
        cases.append(case)
        log(name, "tokens match onnx:", case["onnxGreedyMatches"], case["captions"])
    singles = {c["images"][0]: c["newTokens"][0] for c in cases if c["name"].startswith("single")}
    for c in cases:
        if c["name"].startswith("batch"):
            c["matchesSingles"] = [singles[i] for i in c["images"]] == c["newTokens"]
            log(c["name"], "matches singles:", c["matchesSingles"])

    fixture = {
        "about": "PyTorch greedy reference for models/tiny-qwen2-vl, made by tools/make_tiny_qwen2vl.py",
        "versions": report["versions"],
        "model": "models/tiny-qwen2-vl",
        "prompt": prompt,
        "chatText": sample,
        "maxNewTokens": MAX_NEW_TOKENS,
        "imageRecipe": IMAGE_RECIPE,
        "images": REF_IMAGES,
        "eosTokenIds": gen_cfg["eos_token_id"],
        "minMargin": min(all_margins),
        "cases": cases,
    }
    with open(os.path.join(args.fixtures, "reference.json"), "w") as f:
        json.dump(fixture, f, indent=1)
    report["minMargin"] = min(all_margins)
    report["allOnnxMatch"] = all(c["onnxGreedyMatches"] for c in cases)
    report["batchesMatchSingles"] = all(c.get("matchesSingles", True) for c in cases)
    with open(os.path.join(args.fixtures, "build-report.json"), "w") as f:
        json.dump(report, f, indent=1)
    write_readme(out, report, vocab_size)
    sizes = {f: os.path.getsize(os.path.join(onnx_dir, f)) for f in os.listdir(onnx_dir)}
    log("onnx sizes", sizes)
    log("REPORT", json.dumps(report))
    ok = report["allOnnxMatch"] and all(v < 1e-3 for v in checks.values())
    log("OK" if ok else "CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
