#!/usr/bin/env python3
"""Train medcap's demo captioner: a small Qwen2-VL that has learned to describe the synthetic
studies of src/demo/cases.ts (head CT, chest films, ultrasound fans with varied lesions).

Input: the study packs written by `npx tsx tools/write-demo-training-data.ts --out DATA`
(train.*, heldout.*, reference.*). Steps:

1. A small byte-level BPE tokenizer, made the way tools/make_tiny_qwen2vl.py makes the tiny
   model's (its corpus plus the training captions), and a Qwen2VLForConditionalGeneration of a
   few layers.
2. Training, for a fixed time, on the chat layout medcap sends (system turn, image, the default
   prompt, then the caption and <|im_end|>), through the same vision / embedding / decoder
   wrappers that are exported, with pixel values laid out as Qwen2VLImageProcessor lays them.
3. Greedy captions of the held-out studies with transformers' `generate` (CPU, float32).
4. Export with make_tiny_qwen2vl's exporter to the Transformers.js layout, ONNX greedy tokens
   checked against PyTorch's, and a reference fixture of PyTorch's greedy tokens.

A preflight runs steps 2-4 on a few training steps first, so a broken export costs seconds,
not the whole training time. Everything lands in --out: demo-captioner.tar.gz (the model
folder), reference.json, heldout_captions.jsonl, report.json, state_dict.pt.

    python3 tools/train_tiny_captioner.py --data DATA --out OUT --train-seconds 180
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import math
import os
import shutil
import sys
import tarfile
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tiny_qwen2vl as tiny  # noqa: E402  (tokenizer, config, wrappers, exporter, checks)

from make_tiny_qwen2vl import TOK, log  # noqa: E402

TEXT_CONFIG = dict(
    tiny.TEXT_CONFIG,
    hidden_size=128,
    intermediate_size=384,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
)
MROPE_SECTION = [4, 6, 6]  # sums to head_dim / 2 = 16, in Qwen2-VL's 1:1.5:1.5 proportion
VISION_CONFIG = dict(
    tiny.VISION_CONFIG,
    depth=3,
    embed_dim=96,
    hidden_size=TEXT_CONFIG["hidden_size"],
    num_heads=4,
    mlp_ratio=3,
)
MAX_NEW_TOKENS = 24
IMAGE_PAD = TOK["<|image_pad|>"]
IM_END = TOK["<|im_end|>"]
PAD = TOK["<|endoftext|>"]


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def load_pack(data_dir: str, name: str) -> list[dict]:
    """Entries of <name>.jsonl with their decoded RGB pixels ([H, W, 3] uint8)."""
    from PIL import Image

    with open(os.path.join(data_dir, f"{name}.jsonl")) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(data_dir, f"{name}.bin"), "rb") as f:
        blob = f.read()
    for e in entries:
        raw = blob[e["offset"] : e["offset"] + e["bytes"]]
        img = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
        if img.shape != (e["height"], e["width"], 3):
            raise ValueError(f"{name}: {e['kind']} seed {e['seed']} decoded as {img.shape}")
        e["pixels"] = img
    return entries


def prompt_ids(tok, image_tokens: int) -> list[int]:
    text = tiny.render_chat(tiny.DEFAULT_PROMPT).replace("<|image_pad|>", "<|image_pad|>" * image_tokens)
    return tok.encode(text).ids


def grid_of(entry: dict) -> list[int]:
    return [1, entry["height"] // 14, entry["width"] // 14]


def patchify(images, mean, std):
    """Qwen2VLImageProcessor's pixel_values for a batch of same-size images, in torch.

    images [B, H, W, 3] uint8 -> [B, patches, 3 * 2 * 14 * 14], the layout of
    make_tiny_qwen2vl.manual_pixel_values (checked against it before training).
    """
    b, h, w, _ = images.shape
    p, m, tp = 14, 2, 2
    x = images.float() * (1 / 255)
    x = (x - mean) / std
    x = x.permute(0, 3, 1, 2)[:, None].expand(b, tp, 3, h, w)
    gh, gw = h // p, w // p
    x = x.reshape(b, tp, 3, gh // m, m, p, gw // m, m, p)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(b, gh * gw, 3 * tp * p * p)


class Group:
    """All studies of one image size, as device tensors: pixel values, token rows, labels."""

    def __init__(self, entries, tok, device):
        import torch

        self.entries = entries
        self.grid = grid_of(entries[0])
        n_patches = self.grid[1] * self.grid[2]
        self.prompt = prompt_ids(tok, n_patches // 4)
        captions = [tok.encode(e["caption"]).ids + [IM_END] for e in entries]
        self.length = len(self.prompt) + max(len(c) for c in captions)
        ids = np.full((len(entries), self.length), PAD, np.int64)
        labels = np.full((len(entries), self.length), -100, np.int64)
        for i, c in enumerate(captions):
            ids[i, : len(self.prompt)] = self.prompt
            ids[i, len(self.prompt) : len(self.prompt) + len(c)] = c
            labels[i, len(self.prompt) : len(self.prompt) + len(c)] = c
        self.ids = torch.from_numpy(ids).to(device)
        self.labels = torch.from_numpy(labels).to(device)
        mean = torch.tensor(tiny.IMAGE_MEAN, dtype=torch.float32, device=device)
        std = torch.tensor(tiny.IMAGE_STD, dtype=torch.float32, device=device)
        pixels = torch.from_numpy(np.stack([e["pixels"] for e in entries])).to(device)
        self.pixel_values = torch.cat([patchify(pixels[i : i + 256], mean, std) for i in range(0, len(entries), 256)])
        pos, _ = tiny.rope_index(ids[:1], np.array([self.grid]))
        self.pos = torch.from_numpy(pos).to(device)  # [3, 1, L]; every row has the same layout
        self.grid_t = torch.tensor([self.grid], dtype=torch.int64, device=device)

    def batch(self, index):
        b = index.shape[0]
        pv = self.pixel_values[index].reshape(-1, self.pixel_values.shape[-1])
        return self.ids[index], self.labels[index], pv, self.grid_t.expand(b, 3), self.pos.expand(3, b, -1)


def groups_of(entries, tok, device) -> list[Group]:
    by_size: dict[tuple[int, int], list[dict]] = {}
    for e in entries:
        by_size.setdefault((e["height"], e["width"]), []).append(e)
    return [Group(v, tok, device) for _, v in sorted(by_size.items())]


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


class Captioner:
    """The Qwen2-VL model and the wrappers that are trained and exported."""

    def __init__(self, vocab_size: int, seed: int):
        import torch
        from transformers import Qwen2VLForConditionalGeneration

        config = tiny.qwen2vl_config(vocab_size, TEXT_CONFIG, VISION_CONFIG, MROPE_SECTION)
        torch.manual_seed(seed)
        self.model = Qwen2VLForConditionalGeneration(config).float()
        try:
            self.model.set_attn_implementation("eager")
        except Exception as e:  # noqa: BLE001
            log("set_attn_implementation failed (kept default):", repr(e))
        tiny.set_greedy_generation(self.model)
        self.rewrap()

    def rewrap(self):
        self.vision, self.embed, self.decoder, self.info = tiny.make_wrappers(self.model, MROPE_SECTION)

    def logits(self, ids, pv, grid, pos):
        import torch

        emb = self.embed(ids)
        feats = self.vision(pv, grid)
        emb = emb.masked_scatter((ids == IMAGE_PAD).unsqueeze(-1), feats.to(emb.dtype))
        b = ids.shape[0]
        past = []
        for _ in range(self.info["n_layers"]):
            z = torch.zeros(b, self.info["n_kv"], 0, self.info["head_dim"], device=ids.device)
            past += [z, z]
        return self.decoder(emb, torch.ones_like(ids), pos, *past)[0]

    def loss(self, ids, labels, pv, grid, pos):
        import torch.nn.functional as F

        logits = self.logits(ids, pv, grid, pos)
        v = logits.shape[-1]
        return F.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1), ignore_index=-100)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def teacher_forced(cap: Captioner, groups: list[Group], per_group: int) -> dict:
    """Held-out loss and the share of captions whose every token is the argmax (teacher forcing)."""
    import torch

    losses, exact, n = [], 0, 0
    with torch.no_grad():
        for g in groups:
            idx = torch.arange(min(per_group, g.ids.shape[0]), device=g.ids.device)
            ids, labels, pv, grid, pos = g.batch(idx)
            logits = cap.logits(ids, pv, grid, pos)
            v = logits.shape[-1]
            losses.append(
                float(
                    torch.nn.functional.cross_entropy(
                        logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1), ignore_index=-100
                    )
                )
            )
            pred = logits[:, :-1].argmax(-1)
            want = labels[:, 1:]
            ok = ((pred == want) | (want == -100)).all(-1)
            exact += int(ok.sum())
            n += ids.shape[0]
    return {"loss": float(np.mean(losses)), "exact": exact / max(1, n)}


def train(cap: Captioner, groups, heldout_groups, seconds: float, max_steps: int, batch: int, lr: float, seed: int):
    import torch

    params = [p for p in cap.model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98)
    )
    gen = torch.Generator(device=groups[0].ids.device).manual_seed(seed)
    pick = np.random.default_rng(seed)
    sizes = np.array([g.ids.shape[0] for g in groups], np.float64)
    warmup = 200
    history = []
    cap.model.train()
    t0 = time.time()
    last_eval = t0
    step = 0
    loss_sum, loss_n = 0.0, 0
    while step < max_steps:
        elapsed = time.time() - t0
        if elapsed >= seconds:
            break
        frac = elapsed / seconds
        scale = min(1.0, (step + 1) / warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        g = groups[int(pick.choice(len(groups), p=sizes / sizes.sum()))]
        idx = torch.randint(0, g.ids.shape[0], (batch,), device=g.ids.device, generator=gen)
        ids, labels, pv, grid, pos = g.batch(idx)
        pv = pv + 0.05 * torch.randn(pv.shape, device=pv.device, generator=gen)  # a little sensor noise
        loss = cap.loss(ids, labels, pv, grid, pos)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        loss_sum += float(loss.detach()) if step % 25 == 0 else 0.0
        loss_n += 1 if step % 25 == 0 else 0
        now = time.time()
        if now - last_eval >= 20 or step == max_steps or now - t0 >= seconds:
            last_eval = now
            cap.model.eval()
            held = teacher_forced(cap, heldout_groups, 128)
            cap.model.train()
            row = {
                "step": step,
                "seconds": round(now - t0, 1),
                "train_loss": loss_sum / max(1, loss_n),
                "heldout_loss": held["loss"],
                "heldout_exact_tf": held["exact"],
                "lr": lr * scale,
            }
            loss_sum, loss_n = 0.0, 0
            history.append(row)
            log("train", json.dumps(row))
    cap.model.eval()
    return {"steps": step, "seconds": round(time.time() - t0, 1), "history": history}


# --------------------------------------------------------------------------------------
# Greedy captions, export, reference
# --------------------------------------------------------------------------------------


def cpu_inputs(tok, entries: list[dict]) -> dict:
    """input_ids, pixel_values, grid_thw for one batch of same-size images, as hf_generate wants them."""
    import torch

    pvs, grids = zip(*(tiny.manual_pixel_values(e["pixels"]) for e in entries))
    row = prompt_ids(tok, grids[0][1] * grids[0][2] // 4)
    ids = torch.tensor([row] * len(entries), dtype=torch.long)
    return dict(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        pixel_values=torch.from_numpy(np.concatenate(pvs, 0)),
        image_grid_thw=torch.tensor(grids, dtype=torch.long),
        mm_token_type_ids=(ids == IMAGE_PAD).long(),
    )


def greedy_captions(cap: Captioner, tok, entries: list[dict], batch: int = 50) -> list[dict]:
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, e in enumerate(entries):
        by_size.setdefault((e["height"], e["width"]), []).append(i)
    out: list[dict | None] = [None] * len(entries)
    for idx in by_size.values():
        for k in range(0, len(idx), batch):
            part = idx[k : k + batch]
            tokens, margins = tiny.hf_generate(cap.model, cpu_inputs(tok, [entries[i] for i in part]), MAX_NEW_TOKENS)
            for i, t in zip(part, tokens):
                out[i] = {
                    "kind": entries[i]["kind"],
                    "seed": entries[i]["seed"],
                    "reference": entries[i]["caption"],
                    "generated": tiny.decode(tok, t),
                    "tokens": t,
                }
    return out  # type: ignore[return-value]


def library_vs_wrappers(cap: Captioner, tok, entries: list[dict]) -> float:
    """Max |logits| difference between transformers' forward and the wrappers on one batch."""
    import torch

    inp = cpu_inputs(tok, entries)
    fwd = dict(
        input_ids=inp["input_ids"],
        attention_mask=inp["attention_mask"],
        pixel_values=inp["pixel_values"],
        image_grid_thw=inp["image_grid_thw"],
        use_cache=False,
    )
    with torch.no_grad():
        try:
            lib = cap.model(mm_token_type_ids=inp["mm_token_type_ids"], **fwd).logits
        except TypeError:
            lib = cap.model(**fwd).logits
        ids = inp["input_ids"]
        pos, _ = tiny.rope_index(ids.numpy(), inp["image_grid_thw"].numpy())
        mine = cap.logits(ids, inp["pixel_values"], inp["image_grid_thw"], torch.from_numpy(pos))
    return float((lib - mine).abs().max())


def reference_cases(cap: Captioner, tok, refs: list[dict], ortm) -> list[dict]:
    """PyTorch greedy tokens for each reference image alone and for each kind's images together."""
    cases = []
    kinds: dict[str, list[int]] = {}
    for i, e in enumerate(refs):
        kinds.setdefault(e["kind"], []).append(i)
    plan = [(f"single-{refs[i]['kind']}-{refs[i]['seed']}", [i]) for i in range(len(refs))]
    plan += [(f"batch-{k}", idx) for k, idx in kinds.items() if len(idx) > 1]
    for name, idx in plan:
        entries = [refs[i] for i in idx]
        inp = cpu_inputs(tok, entries)
        tokens, margins = tiny.hf_generate(cap.model, inp, MAX_NEW_TOKENS)
        case = {
            "name": name,
            "images": idx,
            "inputIds": inp["input_ids"].tolist(),
            "gridThw": inp["image_grid_thw"].tolist(),
            "newTokens": tokens,
            "captions": [tiny.decode(tok, t) for t in tokens],
            "minMargin": min(margins),
        }
        if ortm is not None:
            ort_tokens = ortm.generate(
                inp["input_ids"].numpy(), inp["pixel_values"].numpy(), inp["image_grid_thw"].numpy(), MAX_NEW_TOKENS
            )
            case["onnxGreedyMatches"] = ort_tokens == tokens
            if ort_tokens != tokens:
                case["onnxTokens"] = ort_tokens
        cases.append(case)
        log(name, case["captions"], "onnx match:", case.get("onnxGreedyMatches"))
    return cases


def finish(cap: Captioner, tok, refs, heldout, model_dir: str, about: dict, heldout_limit: int) -> dict:
    """CPU float32: held-out captions, checks, export, ONNX parity, reference cases."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cap.model.cpu().float().eval()
    cap.rewrap()
    result: dict = {}
    same_size = [e for e in refs if (e["height"], e["width"]) == (refs[0]["height"], refs[0]["width"])]
    result["library_vs_wrappers_max_abs"] = library_vs_wrappers(cap, tok, same_size)
    log("library vs wrappers:", result["library_vs_wrappers_max_abs"])
    t = time.time()
    captions = greedy_captions(cap, tok, heldout[:heldout_limit])
    result["heldout_seconds"] = round(time.time() - t, 1)
    result["heldout_n"] = len(captions)
    result["heldout_exact"] = sum(c["generated"] == c["reference"] for c in captions) / max(1, len(captions))
    per_kind = {}
    for c in captions:
        k = per_kind.setdefault(c["kind"], [0, 0])
        k[0] += c["generated"] == c["reference"]
        k[1] += 1
    result["heldout_exact_by_kind"] = {k: v[0] / v[1] for k, v in per_kind.items()}
    log("held-out exact:", result["heldout_exact"], result["heldout_exact_by_kind"])
    for c in captions[:9]:
        log("  ref:", c["reference"], "| got:", c["generated"])

    if os.path.exists(model_dir):
        shutil.rmtree(model_dir)
    os.makedirs(model_dir)
    tiny.write_tokenizer_files(tok, model_dir)
    gen_cfg = tiny.write_model_configs(cap.model, model_dir, tok.get_vocab_size(), about)
    onnx_dir = os.path.join(model_dir, "onnx")
    ortm = None
    try:
        tiny.export_all(cap.vision, cap.embed, cap.decoder, cap.info, TEXT_CONFIG["hidden_size"], onnx_dir)
        ortm = tiny.OrtModel(onnx_dir, cap.info)
    except Exception as e:  # noqa: BLE001
        result["export_error"] = repr(e)
        traceback.print_exc()
    cases = reference_cases(cap, tok, refs, ortm)
    result["reference_cases"] = cases
    result["eos_token_ids"] = gen_cfg["eos_token_id"]
    result["all_onnx_match"] = ortm is not None and all(c.get("onnxGreedyMatches") for c in cases)
    result["captions"] = captions
    result["onnx_bytes"] = (
        {f: os.path.getsize(os.path.join(onnx_dir, f)) for f in os.listdir(onnx_dir)} if os.path.isdir(onnx_dir) else {}
    )
    return result


def write_readme(model_dir: str, about: dict, report: dict) -> None:
    tr = report["training"]
    last = tr["history"][-1] if tr["history"] else {}
    text = f"""# demo-captioner

A small Qwen2-VL **trained** to caption the synthetic studies of medcap's demo generator
(`src/demo/cases.ts`): head CT phantoms, chest films and ultrasound fans, with 0-3 lesions
described by count, side, region, size and brightness. `medcap demo` uses it. It knows
nothing about real medical images.

- Architecture: Qwen2-VL (`Qwen2VLForConditionalGeneration`), text {TEXT_CONFIG['num_hidden_layers']} layers of width
  {TEXT_CONFIG['hidden_size']} ({TEXT_CONFIG['num_attention_heads']} heads, {TEXT_CONFIG['num_key_value_heads']} key/value heads), vision tower {VISION_CONFIG['depth']} blocks of width
  {VISION_CONFIG['embed_dim']}, patch 14, merge 2; M-RoPE sections {MROPE_SECTION}; {about['parameters']:,} parameters (fp32).
- Tokenizer: byte-level BPE of {about['vocab_size']} tokens with the Qwen2-VL special tokens, made
  like models/tiny-qwen2-vl's from its corpus plus the training captions.
- Training: {about['train_images']} studies (seeds {about['train_seeds']}), {tr['steps']} steps of
  {about['batch']} in {tr['seconds']} s on {about['device']}; final held-out loss {last.get('heldout_loss', float('nan')):.4f}.
- Held-out greedy captions (transformers `generate`, {report['finish']['heldout_n']} studies from seeds
  below 1,000,000): {report['finish']['heldout_exact']:.1%} exactly right.

Made by `tools/train_tiny_captioner.py`; see docs/DEMO-MODEL.md. PyTorch's greedy tokens for
some demo studies are in `test/fixtures/demo-captioner/reference.json`.
"""
    with open(os.path.join(model_dir, "README.md"), "w") as f:
        f.write(text)


def pixels_sha256(entry: dict) -> str:
    return hashlib.sha256(np.ascontiguousarray(entry["pixels"]).tobytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-seconds", type=float, default=180)
    ap.add_argument("--max-steps", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--vocab-size", type=int, default=640)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preflight-steps", type=int, default=3)
    ap.add_argument("--heldout-limit", type=int, default=300)
    ap.add_argument("--init-state", help="start from this state_dict.pt (with --train-seconds 0: export only)")
    args = ap.parse_args()

    import tokenizers
    import torch
    import transformers

    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(max(1, min(16, os.cpu_count() or 1)))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "python": sys.version.split()[0],
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
    }
    try:
        import onnx
        import onnxruntime

        versions.update(onnx=onnx.__version__, onnxruntime=onnxruntime.__version__)
    except Exception as e:  # noqa: BLE001
        versions["onnx_error"] = repr(e)
    log("versions", versions)
    report: dict = {"versions": versions, "args": vars(args)}

    def save_report():
        with open(os.path.join(args.out, "report.json"), "w") as f:
            json.dump(report, f, indent=1, default=str)

    train_set = load_pack(args.data, "train")
    heldout = load_pack(args.data, "heldout")
    refs = load_pack(args.data, "reference")
    log(f"data: {len(train_set)} train, {len(heldout)} held-out, {len(refs)} reference")
    train_seeds = sorted({e["seed"] for e in train_set})
    if train_seeds[0] <= max(e["seed"] for e in heldout + refs):
        raise SystemExit("training seeds overlap the held-out seeds")

    corpus = tiny.CORPUS * 3 + [e["caption"] for e in train_set]
    tok = tiny.build_tokenizer(args.vocab_size, corpus)
    vocab_size = tok.get_vocab_size()
    lengths = [len(tok.encode(e["caption"]).ids) for e in train_set]
    log(f"tokenizer: {vocab_size} tokens; caption tokens mean {np.mean(lengths):.1f} max {max(lengths)}")
    global MAX_NEW_TOKENS
    if max(lengths) + 1 > MAX_NEW_TOKENS:
        log(f"WARNING: captions need {max(lengths) + 1} tokens; generating up to that many")
        MAX_NEW_TOKENS = max(lengths) + 1

    # The torch patch layout must equal the reference recipe before anything trains on it.
    mean = torch.tensor(tiny.IMAGE_MEAN, dtype=torch.float32)
    std = torch.tensor(tiny.IMAGE_STD, dtype=torch.float32)
    for e in refs[:3]:
        got = patchify(torch.from_numpy(e["pixels"][None]), mean, std)[0].numpy()
        want = tiny.manual_pixel_values(e["pixels"])[0]
        if np.abs(got - want).max() > 1e-5:
            raise SystemExit(f"patchify differs from manual_pixel_values by {np.abs(got - want).max()}")

    groups = groups_of(train_set, tok, device)
    heldout_groups = groups_of(heldout, tok, device)
    log("groups:", [(g.grid, g.ids.shape[0], g.length) for g in groups])

    cap = Captioner(vocab_size, args.seed)
    about = {
        "note": "trained on medcap's synthetic demo studies; made by tools/train_tiny_captioner.py",
        "parameters": cap.n_params(),
        "vocab_size": vocab_size,
        "train_images": len(train_set),
        "train_seeds": f"{train_seeds[0]}-{train_seeds[-1]} per kind",
        "heldout_seeds": f"{min(e['seed'] for e in heldout)}-{max(e['seed'] for e in heldout)} per kind",
        "batch": args.batch,
        "device": versions["device"],
        "seed": args.seed,
    }
    log("parameters:", about["parameters"])
    if args.init_state:
        cap.model.load_state_dict(torch.load(args.init_state, map_location="cpu"))
    cap.model.to(device)
    cap.rewrap()

    # Preflight: a few steps, then the whole finishing path on a copy, so that a broken export
    # or check is found before the training time is spent.
    if args.preflight_steps > 0 and args.train_seconds > 0:
        train(cap, groups, heldout_groups, 60, args.preflight_steps, 8, args.lr, args.seed)
        trial = copy.copy(cap)
        trial.model = copy.deepcopy(cap.model)
        pre = finish(trial, tok, refs, heldout, os.path.join(args.out, "preflight-model"), about, 6)
        report["preflight"] = {k: v for k, v in pre.items() if k not in ("captions",)}
        shutil.rmtree(os.path.join(args.out, "preflight-model"), ignore_errors=True)
        save_report()
        # A few steps leave near-ties, where ONNX and PyTorch may pick differently: only a
        # clear-cut mismatch counts.
        clear_mismatch = [
            c["name"] for c in pre["reference_cases"] if c.get("onnxGreedyMatches") is False and c["minMargin"] > 1e-3
        ]
        if "export_error" in pre or clear_mismatch:
            log("PREFLIGHT FAILED", pre.get("export_error"), clear_mismatch)
            return 1
        log("preflight ok")
        cap.model.to(device)
        cap.rewrap()
        del trial

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    report["training"] = train(
        cap, groups, heldout_groups, args.train_seconds, args.max_steps, args.batch, args.lr, args.seed + 1
    )
    torch.save({k: v.detach().cpu() for k, v in cap.model.state_dict().items()}, os.path.join(args.out, "state_dict.pt"))
    save_report()
    del groups, heldout_groups
    if device == "cuda":
        torch.cuda.empty_cache()

    model_dir = os.path.join(args.out, "demo-captioner")
    fin = finish(cap, tok, refs, heldout, model_dir, about, args.heldout_limit)
    report["finish"] = {k: v for k, v in fin.items() if k != "captions"}
    with open(os.path.join(args.out, "heldout_captions.jsonl"), "w") as f:
        for c in fin["captions"]:
            f.write(json.dumps(c) + "\n")
    fixture = {
        "about": "PyTorch greedy reference for models/demo-captioner, made by tools/train_tiny_captioner.py",
        "versions": versions,
        "model": "models/demo-captioner",
        "prompt": tiny.DEFAULT_PROMPT,
        "maxNewTokens": MAX_NEW_TOKENS,
        "eosTokenIds": fin["eos_token_ids"],
        "images": [
            {"kind": e["kind"], "seed": e["seed"], "width": e["width"], "height": e["height"], "sha256": pixels_sha256(e)}
            for e in refs
        ],
        "minMargin": min(c["minMargin"] for c in fin["reference_cases"]),
        "cases": fin["reference_cases"],
    }
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(fixture, f, indent=1)
    write_readme(model_dir, about, report)
    save_report()
    with tarfile.open(os.path.join(args.out, "demo-captioner.tar.gz"), "w:gz") as tar:
        tar.add(model_dir, arcname="demo-captioner")
    shutil.rmtree(model_dir)
    ok = fin["all_onnx_match"]
    log("OK" if ok else "ONNX TOKENS DIFFER", json.dumps({k: report["finish"][k] for k in ("heldout_exact", "all_onnx_match", "onnx_bytes")}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
