#!/usr/bin/env python3
"""Computes medcap's parity reference numbers with the real toolkits.

Needs (not shipped with medcap): pycocoevalcap (with Java and its Stanford CoreNLP 3.4.1
jar, for PTBTokenizer), rouge_score (and NLTK, for its Porter stemmer) and numpy on
PYTHONPATH. Reads test/fixtures/parity/corpus.jsonl and tokenizer-strings.txt (made by
make_corpus.py) and writes:

  tokenizer-expected.txt  PTBTokenizer output (as pycocoevalcap post-processes it) for each
                          line of tokenizer-strings.txt
  expected.json           per-item and corpus BLEU-1..4, ROUGE-L, CIDEr-D (pycocoevalcap,
                          after its PTBTokenizer; and on whitespace-split input), ROUGE-1/2
                          F-measure (rouge_score, best over references, with and without
                          the Porter stemmer), and the tokens of every corpus caption

Usage: PYTHONPATH=... python3 tools/parity/reference.py
"""
import json
import os
import sys
import time

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
from rouge_score import rouge_scorer

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures",
                    "parity")


def tokenize_lines(lines):
    captions = {i: [{"caption": line}] for i, line in enumerate(lines)}
    out = PTBTokenizer().tokenize(captions)
    return [out[i][0] for i in range(len(lines))]


def score(gts, res):
    bleu, bleu_items = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_items = Rouge().compute_score(gts, res)
    cider, cider_items = Cider().compute_score(gts, res)
    return {
        "bleu": {"corpus": list(bleu), "items": [list(x) for x in zip(*bleu_items)]},
        "rouge_l": {"corpus": float(rouge), "items": [float(x) for x in rouge_items]},
        "cider": {"corpus": float(cider), "items": [float(x) for x in cider_items]},
    }


def rouge_n(items, stemmer):
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=stemmer)
    out = {"rouge_1": [], "rouge_2": []}
    for item in items:
        s = scorer.score_multi(item["references"], item["candidate"])
        out["rouge_1"].append(s["rouge1"].fmeasure)
        out["rouge_2"].append(s["rouge2"].fmeasure)
    return out


def main():
    with open(os.path.join(HERE, "tokenizer-strings.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    t0 = time.time()
    tokenized = tokenize_lines(lines)
    print("tokenized %d strings in %.1fs" % (len(lines), time.time() - t0), file=sys.stderr)
    with open(os.path.join(HERE, "tokenizer-expected.txt"), "w", encoding="utf-8") as f:
        for line in tokenized:
            f.write(line + "\n")

    items = []
    with open(os.path.join(HERE, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            items.append(json.loads(line))
    gts_raw = {it["id"]: [{"caption": r} for r in it["references"]] for it in items}
    res_raw = {it["id"]: [{"caption": it["candidate"]}] for it in items}
    tok = PTBTokenizer()
    gts = tok.tokenize(gts_raw)
    res = tok.tokenize(res_raw)
    expected = {
        "ids": [it["id"] for it in items],
        "tokens": {
            "candidates": [res[it["id"]][0] for it in items],
            "references": [gts[it["id"]] for it in items],
        },
        "coco": score(gts, res),
        "whitespace": score(
            {it["id"]: list(it["references"]) for it in items},
            {it["id"]: [it["candidate"]] for it in items},
        ),
        "rouge_score": {"plain": rouge_n(items, False), "stemmed": rouge_n(items, True)},
    }
    # ROUGE-L on raw strings splits on single spaces, not on white space: not comparable.
    del expected["whitespace"]["rouge_l"]
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
    print("wrote expected values for %d items" % len(items), file=sys.stderr)


if __name__ == "__main__":
    main()
