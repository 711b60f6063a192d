#!/usr/bin/env python3
"""BERTScore at scale: a random-weight encoder with roberta-large's exact shape, and the
bert_score package's computation in PyTorch, for `docs/PERFORMANCE.md` ("BERTScore at scale").

  python3 tools/bertscore_bench.py build --out DIR
      numpy (+ torch for the PyTorch copy). Writes DIR/roberta-large/, laid out like the Hub's
      FacebookAI/roberta-large (config.json, tokenizer.json, tokenizer_config.json and
      model.onnx at the repo root, a masked-LM export that outputs only `logits`): 24 layers of
      1024, 16 heads, intermediate 4096, vocabulary 50265, 514 positions, random weights (the
      builder of tools/make_tiny_bert.py at that size), the tiny byte-level BPE tokenizer of
      make_tiny_bert.py with model_max_length 512; and DIR/torch/, the same weights as a
      transformers RobertaModel (safetensors), what bert_score loads.

  python3 tools/bertscore_bench.py score --model DIR --pairs PAIRS.jsonl --dtype fp16|fp32 --out FILE
      needs torch, transformers. BERTScore of {"id","candidate","references"} lines computed
      as bert_score 0.3.13's score() does it (re-written here; the package is not installed
      where this runs): model truncated after `--layer` layers (17), sentences deduplicated
      and sorted by word count, batches of `--batch-size` (64) padded with an attention mask,
      embeddings moved to the CPU per sentence, pairs padded per batch of 64 and matched on
      the GPU (cosine, greedy, idf weights or 1 with <s> and </s> weighted 0), best of several
      references. fp16 = the model in half precision (`model.half()`). Prints the wall time
      from loading the model to the last score and writes the per-item P/R/F1 and the times.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter, defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tiny_bert as mtb  # noqa: E402

SHAPE = {"hidden": 1024, "layers": 24, "heads": 16, "intermediate": 4096, "vocab": 50265,
         "positions": 514}
# A small encoder of the same layout (still 24 layers), to try the scripts on a CPU.
SMALL = {**SHAPE, "hidden": 64, "heads": 4, "intermediate": 128}
SEED = 20261206


def train_tokenizer(folder: str, pairs_path: str, vocab_size: int) -> None:
    """Replaces the tiny tokenizer by a byte-level BPE of roberta-large's vocabulary size
    trained on the corpus (tokenizers library), so that captions split into about as many
    tokens as roberta-large's own tokenizer makes of real captions."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    texts = []
    for p in read_pairs(pairs_path):
        texts.append(" " + p["candidate"])
        texts.extend(" " + r for r in p["references"])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")))
    tok.save(os.path.join(folder, "tokenizer.json"))
    tok.model.save(folder)  # vocab.json, merges.txt
    n = sum(len(tok.encode(t).ids) for t in texts[:2000])
    print(f"tokenizer: {tok.get_vocab_size()} tokens, {n / 2000:.1f} per sentence (first 2000)",
          flush=True)


def build(out: str, shape: dict = SHAPE, pairs_path: str | None = None) -> None:
    mtb.HIDDEN, mtb.LAYERS = shape["hidden"], shape["layers"]
    mtb.HEADS, mtb.INTERMEDIATE = shape["heads"], shape["intermediate"]
    t0 = time.perf_counter()
    folder = os.path.join(out, "roberta-large")
    os.makedirs(folder, exist_ok=True)
    rv, merges = mtb.roberta_vocab()
    w = mtb.make_weights("roberta.", shape["vocab"], shape["positions"], 1, True, SEED)
    config = {
        "architectures": ["RobertaForMaskedLM"], "model_type": "roberta",
        "vocab_size": shape["vocab"], "hidden_size": shape["hidden"],
        "num_hidden_layers": shape["layers"], "num_attention_heads": shape["heads"],
        "intermediate_size": shape["intermediate"], "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": shape["positions"], "type_vocab_size": 1,
        "initializer_range": 0.02, "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0,
        "eos_token_id": 2, "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    mtb.write_json(os.path.join(folder, "config.json"), config)
    mtb.write_json(os.path.join(folder, "tokenizer.json"), mtb.roberta_tokenizer_json(rv, merges))
    mtb.write_json(os.path.join(folder, "tokenizer_config.json"), {
        "tokenizer_class": "RobertaTokenizer", "model_max_length": 512, "bos_token": "<s>",
        "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
        "pad_token": "<pad>", "mask_token": "<mask>", "add_prefix_space": False,
        "errors": "replace", "trim_offsets": True,
    })
    mtb.write_json(os.path.join(folder, "vocab.json"), rv)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    if pairs_path:
        keep = os.path.join(out, "tiny-tokenizer")  # the fallback, should a reader reject the new one
        os.makedirs(keep, exist_ok=True)
        for name in ("tokenizer.json", "vocab.json", "merges.txt"):
            with open(os.path.join(folder, name), "rb") as src, open(os.path.join(keep, name), "wb") as dst:
                dst.write(src.read())
        try:
            train_tokenizer(folder, pairs_path, shape["vocab"])
        except Exception as e:  # noqa: BLE001
            print(f"tokenizer training failed, the tiny tokenizer stays: {e!r}", flush=True)
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(mtb.build_onnx("roberta", w, 1e-5, 1))
    print(f"onnx written in {time.perf_counter() - t0:.1f} s "
          f"({os.path.getsize(os.path.join(folder, 'model.onnx')) / 1e9:.2f} GB)", flush=True)

    try:
        import torch
        from transformers import AutoConfig, RobertaModel
    except ImportError as e:
        print(f"no PyTorch copy ({e})", flush=True)
        return

    cfg = AutoConfig.from_pretrained(folder)
    model = RobertaModel(cfg, add_pooling_layer=False)
    weights = {k[len("roberta."):]: torch.from_numpy(v) for k, v in w.items()
               if k.startswith("roberta.")}
    weights = mtb.match_state_dict(model, weights, print)
    missing, _ = model.load_state_dict(weights, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids") and "token_type_ids" not in m]
    if missing:
        raise RuntimeError(f"weights missing for {missing}")
    torch_dir = os.path.join(out, "torch")
    model.save_pretrained(torch_dir)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"):
        with open(os.path.join(folder, name), "rb") as src, open(os.path.join(torch_dir, name), "wb") as dst:
            dst.write(src.read())
    print(f"built in {time.perf_counter() - t0:.1f} s", flush=True)


def read_pairs(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def score(model_dir: str, pairs_path: str, dtype: str, layer: int, batch_size: int, idf: bool,
          out: str) -> None:
    import torch
    from torch.nn.utils.rnn import pad_sequence
    from transformers import AutoModel

    pairs = read_pairs(pairs_path)
    device = "cuda"
    torch.cuda.synchronize()
    t0 = time.perf_counter()

    # get_model / get_tokenizer
    torch_dir = os.path.join(model_dir, "torch")
    tok = mtb.load_tokenizer(torch_dir, print)
    model = AutoModel.from_pretrained(torch_dir)
    model.encoder.layer = torch.nn.ModuleList(list(model.encoder.layer[:layer]))
    model.eval()
    model.to(device)
    if dtype == "fp16":
        model.half()
    torch.cuda.synchronize()
    t_load = time.perf_counter()

    def sent_encode(s: str) -> list[int]:
        return mtb.sent_encode(tok, s, "roberta")

    # score(): several references flattened, the best taken per group afterwards
    cands, refs, groups = [], [], []
    for p in pairs:
        start = len(refs)
        for r in p["references"]:
            cands.append(p["candidate"])
            refs.append(r)
        groups.append((start, len(refs)))

    if idf:
        count: Counter = Counter()
        for r in refs:
            count.update(set(sent_encode(r)))
        n = len(refs)
        idf_dict = defaultdict(lambda: math.log((n + 1) / 1))
        idf_dict.update({t: math.log((n + 1) / (c + 1)) for t, c in count.items()})
    else:
        idf_dict = defaultdict(lambda: 1.0)
        idf_dict[tok.sep_token_id] = 0
        idf_dict[tok.cls_token_id] = 0

    def padding(arr, pad, dt):
        lens = torch.LongTensor([len(a) for a in arr])
        padded = torch.ones(len(arr), int(lens.max()), dtype=dt) * pad
        mask = torch.zeros(len(arr), int(lens.max()), dtype=torch.long)
        for i, a in enumerate(arr):
            padded[i, : lens[i]] = torch.tensor(a, dtype=dt)
            mask[i, : lens[i]] = 1
        return padded, lens, mask

    # bert_cos_score_idf: each distinct sentence once, longest (in words) first
    sentences = sorted(set(refs + cands), key=lambda x: len(x.split(" ")), reverse=True)
    stats = {}
    tokens = 0
    with torch.no_grad():
        for b in range(0, len(sentences), batch_size):
            batch = sentences[b : b + batch_size]
            arr = [sent_encode(s) for s in batch]
            tokens += sum(len(a) for a in arr)
            idf_w = [[idf_dict[i] for i in a] for a in arr]
            ids, _, mask = padding(arr, tok.pad_token_id, torch.long)
            idf_pad, _, _ = padding(idf_w, 0, torch.float)
            out_ = model(ids.to(device), attention_mask=mask.to(device))
            embs = out_[0].cpu()
            mask = mask.cpu()
            for i, s in enumerate(batch):
                n = int(mask[i].sum())
                stats[s] = (embs[i, :n], idf_pad[i, :n])
    torch.cuda.synchronize()
    t_embed = time.perf_counter()

    def batch_stats(batch):
        emb = [stats[s][0].to(device) for s in batch]
        idf_ = [stats[s][1].to(device) for s in batch]
        lens = torch.tensor([e.size(0) for e in emb], dtype=torch.long)
        emb_pad = pad_sequence(emb, batch_first=True, padding_value=2.0)
        idf_pad = pad_sequence(idf_, batch_first=True)
        base = torch.arange(int(lens.max()), dtype=torch.long).expand(len(lens), int(lens.max()))
        return emb_pad, (base < lens.unsqueeze(1)).to(device), idf_pad

    def greedy(ref_emb, ref_mask, ref_idf, hyp_emb, hyp_mask, hyp_idf, unpadded):
        ref_emb = ref_emb / torch.norm(ref_emb, dim=-1).unsqueeze(-1)
        hyp_emb = hyp_emb / torch.norm(hyp_emb, dim=-1).unsqueeze(-1)
        sim = torch.bmm(hyp_emb, ref_emb.transpose(1, 2))
        masks = torch.bmm(hyp_mask.unsqueeze(2).float(), ref_mask.unsqueeze(1).float())
        if unpadded:  # medcap's (and bert_score batch_size=1's) matching: padding never wins
            sim = sim.float().masked_fill(masks == 0, -2.0)
        else:  # bert_score's: padded cosines are 0 and take part in the max
            sim = sim * masks.to(sim.dtype)
        wp = sim.max(dim=2)[0].float()
        wr = sim.max(dim=1)[0].float()
        hyp_idf = hyp_idf / hyp_idf.sum(dim=1, keepdim=True)
        ref_idf = ref_idf / ref_idf.sum(dim=1, keepdim=True)
        P = (wp * hyp_idf).sum(dim=1)
        R = (wr * ref_idf).sum(dim=1)
        F = 2 * P * R / (P + R)
        hz = hyp_mask.sum(dim=1).eq(2)
        rz = ref_mask.sum(dim=1).eq(2)
        P = P.masked_fill(hz | rz, 0.0)
        R = R.masked_fill(hz | rz, 0.0)
        F = F.masked_fill(torch.isnan(F), 0.0)
        return P, R, F

    results = {}
    for unpadded in (False, True):
        preds = []
        with torch.no_grad():
            for b in range(0, len(refs), batch_size):
                r = batch_stats(refs[b : b + batch_size])
                h = batch_stats(cands[b : b + batch_size])
                P, R, F = greedy(*r, *h, unpadded)
                preds.append(torch.stack((P, R, F), dim=-1).cpu())
        allp = torch.cat(preds, dim=0)
        best = torch.stack([allp[s:e].max(dim=0)[0] for s, e in groups], dim=0)
        torch.cuda.synchronize()
        results["unpadded" if unpadded else "bert_score"] = best
        if not unpadded:
            t_end = time.perf_counter()

    wall = t_end - t0
    bs = results["bert_score"]
    print(f"pytorch {dtype}: {len(pairs)} pairs, {len(sentences)} sentences, {tokens} tokens: "
          f"{wall:.1f} s (load {t_load - t0:.1f}, embed {t_embed - t_load:.1f}, "
          f"match {t_end - t_embed:.1f}); mean F1 {float(bs[:, 2].mean()):.6f}", flush=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({
            "dtype": dtype, "pairs": len(pairs), "sentences": len(sentences), "tokens": tokens,
            "wall_s": wall, "load_s": t_load - t0, "embed_s": t_embed - t_load,
            "match_s": t_end - t_embed, "batch_size": batch_size, "layer": layer, "idf": idf,
            "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
            "ids": [p["id"] for p in pairs],
            "F": bs[:, 2].tolist(), "P": bs[:, 0].tolist(), "R": bs[:, 1].tolist(),
            "F_unpadded": results["unpadded"][:, 2].tolist(),
        }, f)


def compare(medcap_csv: str, reference_json: str) -> dict:
    """max |medcap - PyTorch| of the per-item F1 (and P, R), by id."""
    import csv

    ref = json.load(open(reference_json, encoding="utf-8"))
    rows = {r["image_id"]: r for r in csv.DictReader(open(medcap_csv, encoding="utf-8"))}
    out = {"items": 0, "missing": 0}
    for key, col, ref_key in (("f1", "bertscore_f1", "F"), ("precision", "bertscore_precision", "P"),
                              ("recall", "bertscore_recall", "R"), ("f1_unpadded", "bertscore_f1", "F_unpadded")):
        diffs = []
        for i, id_ in enumerate(ref["ids"]):
            row = rows.get(str(id_))
            if row is None:
                out["missing"] += 1
                continue
            diffs.append(abs(float(row[col]) - ref[ref_key][i]))
        out[f"max_abs_diff_{key}"] = max(diffs) if diffs else None
        out[f"mean_abs_diff_{key}"] = sum(diffs) / len(diffs) if diffs else None
        out["items"] = len(diffs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--small", action="store_true", help="hidden 64 instead of 1024 (a CPU try-out)")
    b.add_argument("--tokenizer-corpus", help="pairs JSONL to train the BPE tokenizer on")
    s = sub.add_parser("score")
    s.add_argument("--model", required=True, help="the --out of build")
    s.add_argument("--pairs", required=True)
    s.add_argument("--dtype", choices=["fp16", "fp32"], default="fp32")
    s.add_argument("--layer", type=int, default=17)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--idf", action="store_true")
    s.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--medcap", required=True, help="medcap's medical_{split}_detailed.csv")
    c.add_argument("--reference", required=True, help="the --out of score (fp32)")
    a = ap.parse_args()
    if a.cmd == "compare":
        print(json.dumps(compare(a.medcap, a.reference)))
    elif a.cmd == "build":
        build(a.out, SMALL if a.small else SHAPE, a.tokenizer_corpus)
    else:
        score(a.model, a.pairs, a.dtype, a.layer, a.batch_size, a.idf, a.out)


if __name__ == "__main__":
    sys.exit(main())
