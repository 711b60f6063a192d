"""GPU captioning benchmark, the PyTorch half (bench/gpu-caption.sh runs it on the GPU machine).

    python3 bench/gpu_caption_model.py TINY_DIR MODEL_DIR RESULTS_JSONL BATCHES [--images N] [--new-tokens N] [--no-export]

1. Builds a model with Qwen2-VL-2B-Instruct's configuration and random weights (no download:
   the GPU machine is offline), with the special-token ids of medcap's tiny model.
2. Exports it (step 3), then times transformers' `generate` (bf16, sdpa, greedy, exactly N new tokens, 448x448 images:
   a 32x32 patch grid, 256 image tokens) at each batch size of BATCHES ("1,8,32,64").
3. Exports it fp16 in the Transformers.js layout (onnx/{embed_tokens,vision_encoder,
   decoder_model_merged}_fp16.onnx, the two large ones with external data) with the tiny
   tokenizer widened to the full vocabulary, so `medcap caption --model MODEL_DIR` loads it.
Each result is appended to RESULTS_JSONL as one JSON line as soon as it is known.
"""
import argparse
import json
import os
import shutil
import time

import torch
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
from transformers.models.qwen2_vl.modeling_qwen2_vl import (
    apply_rotary_pos_emb,
    apply_rotary_pos_emb_vision,
    repeat_kv,
)

# Qwen2-VL-2B-Instruct's dimensions (its config.json).
VOCAB, LAYERS, HIDDEN, HEADS, KV_HEADS, FFN = 151936, 28, 1536, 12, 2, 8960
VISION = dict(depth=32, embed_dim=1280, hidden_size=HIDDEN, mlp_ratio=4, num_heads=16,
              in_chans=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
GRID = (1, 32, 32)  # 448x448 pixels in 14 px patches
PATCHES, IMAGE_TOKENS, PATCH_VALUES = 1024, 256, 1176


def record(path, entry):
    print(json.dumps(entry), flush=True)
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def build(tiny):
    text = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
                num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=32768,
                rope_theta=1000000.0, rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]},
                tie_word_embeddings=True, bos_token_id=0, eos_token_id=2)
    config = Qwen2VLConfig(text_config=text, vision_config=VISION, tie_word_embeddings=True,
                           image_token_id=tiny["image_token_id"], video_token_id=tiny["video_token_id"],
                           vision_start_token_id=tiny["vision_start_token_id"],
                           vision_end_token_id=tiny["vision_end_token_id"])
    torch.manual_seed(0)
    with torch.device("cuda"):
        return Qwen2VLForConditionalGeneration(config).to(torch.bfloat16).eval()


def prompt_ids(tiny):
    # vision start, the image tokens, vision end, then 16 text tokens: the shape of medcap's prompt
    return [tiny["vision_start_token_id"]] + [tiny["image_token_id"]] * IMAGE_TOKENS + \
        [tiny["vision_end_token_id"]] + list(range(10, 26))


def time_generate(model, tiny, batch, images, new_tokens):
    ids = prompt_ids(tiny)
    torch.cuda.synchronize()
    started = time.time()
    for first in range(0, images, batch):
        n = min(batch, images - first)
        input_ids = torch.tensor([ids] * n, device="cuda")
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                pixel_values=torch.randn(n * PATCHES, PATCH_VALUES, device="cuda", dtype=torch.bfloat16),
                image_grid_thw=torch.tensor([GRID] * n, device="cuda"),
                max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                eos_token_id=None, pad_token_id=0)
        assert out.shape[1] == len(ids) + new_tokens, out.shape
    torch.cuda.synchronize()
    return time.time() - started


class Decoder(torch.nn.Module):
    """inputs_embeds + mask + 3-D positions + past key/values -> logits + present key/values."""

    def __init__(self, model):
        super().__init__()
        self.lm, self.head = model.model.language_model, model.lm_head

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        x = inputs_embeds
        batch, length, _ = x.shape
        past_length = past[0].shape[2]
        cos, sin = self.lm.rotary_emb(x, position_ids)
        query_pos = torch.arange(length, device=x.device).unsqueeze(1) + past_length
        key_pos = torch.arange(past_length + length, device=x.device).unsqueeze(0)
        visible = (key_pos <= query_pos).unsqueeze(0) & attention_mask.bool().unsqueeze(1)
        bias = torch.where(visible, 0.0, -65504.0).to(x.dtype).unsqueeze(1)
        presents = []
        for i, layer in enumerate(self.lm.layers):
            attn = layer.self_attn
            h = layer.input_layernorm(x)
            q, k, v = (proj(h).view(batch, length, -1, attn.head_dim).transpose(1, 2)
                       for proj in (attn.q_proj, attn.k_proj, attn.v_proj))
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            k = torch.cat([past[2 * i], k], 2)
            v = torch.cat([past[2 * i + 1], v], 2)
            presents += [k, v]
            groups = attn.num_key_value_groups
            weights = torch.softmax(q @ repeat_kv(k, groups).transpose(2, 3) * attn.scaling + bias, -1)
            mixed = (weights @ repeat_kv(v, groups)).transpose(1, 2).reshape(batch, length, -1)
            x = x + attn.o_proj(mixed)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return (self.head(self.lm.norm(x)).float(), *presents)


class Embed(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.table = model.model.language_model.embed_tokens

    def forward(self, input_ids):
        return self.table(input_ids)


class Vision(torch.nn.Module):
    """pixel_values + grid_thw (images of one grid) -> merged image features."""

    def __init__(self, model):
        super().__init__()
        self.visual = model.model.visual

    def forward(self, pixel_values, grid_thw):
        v, merge = self.visual, 2
        x = v.patch_embed(pixel_values.to(v.patch_embed.proj.weight.dtype))
        images, t, h, w = grid_thw.shape[0], grid_thw[0, 0], grid_thw[0, 1], grid_thw[0, 2]

        def merged_order(grid):
            return grid.reshape(h // merge, merge, w // merge, merge).permute(0, 2, 1, 3).flatten()

        rows = merged_order(torch.arange(h, device=x.device).unsqueeze(1).expand(-1, w))
        cols = merged_order(torch.arange(w, device=x.device).unsqueeze(0).expand(h, -1))
        positions = torch.stack([rows, cols], -1).repeat(t, 1)
        freqs = torch.outer(torch.arange(torch.max(h, w), device=x.device).float(),
                            v.rotary_pos_emb.inv_freq.float())
        angles = freqs[positions].flatten(1).repeat(images, 1)
        angles = torch.cat([angles, angles], -1)
        cos, sin = angles.cos(), angles.sin()
        count, width = x.shape
        for block in v.blocks:
            attn = block.attn
            q, k, val = attn.qkv(block.norm1(x)).reshape(count, 3, attn.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
            q, k = apply_rotary_pos_emb_vision(q, k, cos, sin)
            q, k, val = (z.reshape(images, -1, attn.num_heads, attn.head_dim).transpose(1, 2) for z in (q, k, val))
            mixed = torch.softmax(q @ k.transpose(-1, -2) * attn.scaling, -1) @ val
            x = x + attn.proj(mixed.transpose(1, 2).reshape(count, width))
            x = x + block.mlp(block.norm2(x))
        return v.merger(x)


def export(module, args, path, inputs, outputs, axes, external, results):
    import onnx
    started = time.time()
    # Each graph goes through its own scratch folder: cleaning a shared one removed another
    # graph's external-data file in the baseline probe.
    scratch = path + ".scratch"
    os.makedirs(scratch, exist_ok=True)
    first = os.path.join(scratch, "graph.onnx") if external else path
    torch.onnx.export(module, args, first, input_names=inputs, output_names=outputs,
                      dynamic_axes=axes, opset_version=18, dynamo=False)
    if external:
        graph = onnx.load(first, load_external_data=True)
        onnx.save_model(graph, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + "_data", size_threshold=1024)
    shutil.rmtree(scratch, ignore_errors=True)
    record(results, {"stage": "exported", "file": os.path.basename(path), "s": round(time.time() - started, 1)})


def export_all(model, tiny_dir, out, results, dtype=torch.float16):
    """fp16 files are named `_fp16`, fp32 files have no suffix (Transformers.js' names)."""
    os.makedirs(out + "/onnx", exist_ok=True)
    suffix = "_fp16" if dtype == torch.float16 else ""
    model = model.to(dtype)
    model.config._attn_implementation = "eager"
    head_dim = HIDDEN // HEADS
    batch, length, past_length = 2, 5, 3
    embeds = torch.randn(batch, length, HIDDEN, device="cuda", dtype=dtype)
    mask = torch.ones(batch, past_length + length, dtype=torch.int64, device="cuda")
    positions = torch.arange(past_length, past_length + length, device="cuda").view(1, 1, length).expand(3, batch, length).contiguous()
    past = [torch.randn(batch, KV_HEADS, past_length, head_dim, device="cuda", dtype=dtype) for _ in range(2 * LAYERS)]
    kv_in = [f"past_key_values.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
    kv_out = [f"present.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
    axes = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {1: "batch_size", 2: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    axes.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in kv_in})
    axes.update({n: {0: "batch_size", 2: "total_sequence_length"} for n in kv_out})
    with torch.no_grad():
        export(Embed(model), (torch.randint(0, VOCAB, (batch, length), device="cuda"),),
               f"{out}/onnx/embed_tokens{suffix}.onnx", ["input_ids"], ["inputs_embeds"],
               {"input_ids": {0: "batch_size", 1: "sequence_length"},
                "inputs_embeds": {0: "batch_size", 1: "sequence_length"}}, False, results)
        export(Vision(model), (torch.randn(32, PATCH_VALUES, device="cuda"), torch.tensor([[1, 4, 4], [1, 4, 4]], device="cuda")),
               f"{out}/onnx/vision_encoder{suffix}.onnx", ["pixel_values", "grid_thw"], ["image_features"],
               {"pixel_values": {0: "num_patches"}, "grid_thw": {0: "num_images"}, "image_features": {0: "num_features"}},
               True, results)
        export(Decoder(model), (embeds, mask, positions, *past), f"{out}/onnx/decoder_model_merged{suffix}.onnx",
               ["inputs_embeds", "attention_mask", "position_ids"] + kv_in, ["logits"] + kv_out, axes, True, results)

    config = json.load(open(tiny_dir + "/config.json"))
    text = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
                num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, head_dim=head_dim,
                max_position_embeddings=32768, tie_word_embeddings=True)
    config.update(text)
    config.setdefault("text_config", {}).update(text)
    for part in (config, config["text_config"]):
        rope = part.get("rope_parameters")
        if isinstance(rope, dict):
            rope.update({"rope_theta": 1000000.0, "mrope_section": [16, 24, 24]})
    config["vision_config"].update({k: VISION[k] for k in ("depth", "embed_dim", "hidden_size", "mlp_ratio", "num_heads")})
    config["transformers.js_config"] = {"use_external_data_format": {
        f"decoder_model_merged{suffix}.onnx": True, f"vision_encoder{suffix}.onnx": True}}
    json.dump(config, open(out + "/config.json", "w"), indent=1)
    for name in ("generation_config.json", "preprocessor_config.json", "tokenizer_config.json", "chat_template.jinja"):
        if os.path.exists(f"{tiny_dir}/{name}"):
            shutil.copyfile(f"{tiny_dir}/{name}", f"{out}/{name}")
    tokenizer = json.load(open(tiny_dir + "/tokenizer.json"))
    vocab = tokenizer["model"]["vocab"]
    for i in range(len(vocab), VOCAB):
        vocab[f"t{i}"] = i
    json.dump(tokenizer, open(out + "/tokenizer.json", "w"))
    record(results, {"stage": "model-dir", "files": sorted(os.listdir(out + "/onnx"))})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tiny")
    parser.add_argument("out")
    parser.add_argument("results")
    parser.add_argument("batches")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args()
    tiny = json.load(open(args.tiny + "/config.json"))
    started = time.time()
    model = build(tiny)
    record(args.results, {"stage": "built", "s": round(time.time() - started, 1),
                          "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6),
                          "gpu": torch.cuda.get_device_name(0)})
    # Export first: medcap needs the files, and a time limit should cut the PyTorch numbers
    # rather than the model.
    if not args.no_export:
        export_all(model, args.tiny, args.out, args.results)
        model = model.to(torch.bfloat16)
    model.config._attn_implementation = "sdpa"
    time_generate(model, tiny, 2, 2, 4)  # warm-up
    for batch in (int(b) for b in args.batches.split(",")):
        torch.cuda.reset_peak_memory_stats()
        images = max(batch, min(args.images, 8 * batch))
        try:
            seconds = time_generate(model, tiny, batch, images, args.new_tokens)
        except torch.cuda.OutOfMemoryError as error:
            record(args.results, {"engine": "pytorch", "batch": batch, "error": str(error)[:200]})
            continue
        record(args.results, {"engine": "pytorch", "batch": batch, "images": images,
                              "new_tokens": args.new_tokens, "seconds": round(seconds, 2),
                              "img_s": round(images / seconds, 3),
                              "tokens_s": round(images * args.new_tokens / seconds, 1),
                              "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)})


if __name__ == "__main__":
    main()
