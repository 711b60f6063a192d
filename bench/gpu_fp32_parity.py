"""fp32 greedy tokens of medcap against PyTorch on the full-size random Qwen2-VL-2B (issue #12 §3).
bench/gpu-fp32-parity.sh runs it on the GPU machine.

    python3 bench/gpu_fp32_parity.py prepare TINY_DIR MODEL_DIR DATA_DIR OUT_JSON [--images 4] [--new-tokens 32]
        builds the model as bench/gpu_caption_model.py does (same seed), writes the images
        (tools/make_tiny_qwen2vl.py's recipe, 448x448 PNG) to DATA_DIR, runs transformers'
        greedy `generate` in fp32 on them with medcap's prompt, built the way the tiny model's
        reference is (tools/make_tiny_qwen2vl.py: chat template, pixel values), and writes
        the tokens and captions to OUT_JSON; then exports the model fp32 in the
        Transformers.js layout to MODEL_DIR.
    python3 bench/gpu_fp32_parity.py compare OUT_JSON CAPTIONS_CSV MODEL_DIR
        PyTorch's tokens, decoded with MODEL_DIR's tokenizer (the full vocabulary), against
        medcap's captions, image by image; prints one JSON line.
"""
import argparse
import csv
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)

SIZE = 448


def prepare(args):
    import numpy as np
    import torch
    from PIL import Image
    from tokenizers import Tokenizer

    import gpu_caption_model as gm
    import make_tiny_qwen2vl as tiny_tool

    tiny = json.load(open(args.tiny + "/config.json"))
    generation = json.load(open(args.tiny + "/generation_config.json"))
    model = gm.build(tiny).to(torch.float32)
    model.config._attn_implementation = "eager"
    model.generation_config.eos_token_id = generation["eos_token_id"]
    model.generation_config.pad_token_id = generation.get("pad_token_id", 0)

    os.makedirs(args.data, exist_ok=True)
    images = [tiny_tool.make_image(k, SIZE, SIZE) for k in range(args.images)]
    for k, image in enumerate(images):
        Image.fromarray(image, "RGB").save(f"{args.data}/image{k}.png")

    # The tiny tokenizer: the full model's is the same BPE with unused entries added.
    tokenizer = Tokenizer.from_file(args.tiny + "/tokenizer.json")
    text = tiny_tool.render_chat(args.prompt).replace("<|image_pad|>", "<|image_pad|>" * gm.IMAGE_TOKENS)
    ids = torch.tensor([tokenizer.encode(text).ids] * len(images), device="cuda")
    pixels = torch.from_numpy(np.concatenate([tiny_tool.manual_pixel_values(a)[0] for a in images], 0)).cuda()
    grids = torch.tensor([gm.GRID] * len(images), device="cuda")
    inputs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels,
                  image_grid_thw=grids, mm_token_type_ids=(ids == tiny["image_token_id"]).long())
    tokens, margins = tiny_tool.hf_generate(model, inputs, args.new_tokens)
    result = {"images": [f"image{k}" for k in range(len(images))], "prompt": args.prompt,
              "prompt_tokens": ids.shape[1], "new_tokens": args.new_tokens, "tokens": tokens,
              "min_margin": min(margins) if margins else None,
              "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    json.dump(result, open(args.out_json, "w"), indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "tokens"})[:600], flush=True)
    gm.export_all(model, args.tiny, args.model, args.out_json + ".export.jsonl", dtype=torch.float32)


def compare(args):
    from tokenizers import Tokenizer

    # Not the tiny tokenizer: the random model's tokens are almost all past its 480 entries,
    # which it would decode to nothing (the first run of this script compared empty strings).
    tokenizer = Tokenizer.from_file(args.model + "/tokenizer.json")
    reference = json.load(open(args.out_json))
    captions = [tokenizer.decode(t, skip_special_tokens=True).strip() for t in reference["tokens"]]
    with open(args.captions, newline="") as f:
        rows = {r["image_id"]: r for r in csv.DictReader(f)}
    per_image = []
    for image, caption in zip(reference["images"], captions):
        row = rows.get(image, {})
        per_image.append({"image": image, "pytorch": caption[:120], "medcap": row.get("generated_caption", "")[:120],
                          "equal": row.get("generated_caption") == caption})
    print(json.dumps({"stage": "fp32-parity", "images": len(per_image),
                      "equal": sum(p["equal"] for p in per_image), "new_tokens": reference["new_tokens"],
                      "pytorch_token_counts": [len(t) for t in reference["tokens"]],
                      "min_margin": reference["min_margin"], "per_image": per_image}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    for name in ("tiny", "model", "data", "out_json"):
        p.add_argument(name)
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--prompt", required=True)
    c = sub.add_parser("compare")
    c.add_argument("out_json")
    c.add_argument("captions")
    c.add_argument("model")
    args = parser.parse_args()
    prepare(args) if args.command == "prepare" else compare(args)


if __name__ == "__main__":
    main()
