#!/usr/bin/env python3
"""Times the reference toolkits on a JSONL of {"id", "candidate", "references"} lines (e.g.
from `npx tsx bench/metrics.ts --dump pairs.jsonl`), for comparison with `npm run bench`:
pycocoevalcap's PTBTokenizer + Bleu(4) + Rouge + Cider; with --rouge-score, rouge_score's
ROUGE-1/2 (score_multi over each item's references, no stemmer); with --meteor, NLTK's
meteor_score on the PTB tokens (WordNet 3.0 set up for NLTK as meteor_reference.py does,
from the npm package; the WordNet load is timed apart).

With --tokens, the input's captions are already token lists (`npx tsx bench/metrics.ts
--dump-tokens tokens.jsonl`: medcap's coco tokens, equal to the PTBTokenizer's per the
parity tests), and the PTBTokenizer is not run or timed: it needs Stanford CoreNLP's jar,
which the pycocoevalcap git repository does not carry (the PyPI package does).

Usage: PYTHONPATH=... python3 tools/parity/time_reference.py pairs.jsonl [--tokens] [--rouge-score] [--meteor] [--json]

--json prints the timings as one JSON object.
"""
import json
import os
import shutil
import sys
import time

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge


def main():
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    timings = {}
    start = time.perf_counter()
    if "--tokens" in sys.argv:
        gts_t = {it["id"]: [" ".join(r) for r in it["references"]] for it in items}
        res_t = {it["id"]: [" ".join(it["candidate"])] for it in items}
    else:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        gts = {it["id"]: [{"caption": r} for r in it["references"]] for it in items}
        res = {it["id"]: [{"caption": it["candidate"]}] for it in items}
        t = time.perf_counter()
        tok = PTBTokenizer()
        gts_t = tok.tokenize(gts)
        res_t = tok.tokenize(res)
        timings["PTBTokenizer"] = time.perf_counter() - t
    for name, scorer in [("Bleu", Bleu(4)), ("Rouge", Rouge()), ("Cider", Cider())]:
        t = time.perf_counter()
        if name == "Bleu":
            scorer.compute_score(gts_t, res_t, verbose=0)
        else:
            scorer.compute_score(gts_t, res_t)
        timings[name] = time.perf_counter() - t
    if "--rouge-score" in sys.argv:
        from rouge_score import rouge_scorer
        t = time.perf_counter()
        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=False)
        text = (lambda c: " ".join(c)) if "--tokens" in sys.argv else (lambda c: c)
        for it in items:
            scorer.score_multi([text(r) for r in it["references"]], text(it["candidate"]))
        timings["rouge_score"] = time.perf_counter() - t
    if "--meteor" in sys.argv:
        from meteor_reference import build_nltk_data

        data_root, _ = build_nltk_data(None)
        os.environ["NLTK_DATA"] = str(data_root)
        from nltk.corpus import wordnet
        from nltk.translate.meteor_score import meteor_score

        t = time.perf_counter()
        wordnet.ensure_loaded()
        timings["WordNet load"] = time.perf_counter() - t
        t = time.perf_counter()
        for key in res_t:
            meteor_score([r.split() for r in gts_t[key]], res_t[key][0].split())
        timings["NLTK meteor"] = time.perf_counter() - t
        shutil.rmtree(data_root, ignore_errors=True)
    total = time.perf_counter() - start
    if "--json" in sys.argv:
        print(json.dumps({"pairs": len(items), "total_s": round(total, 3),
                          **{name + "_s": round(seconds, 3) for name, seconds in timings.items()}}))
        return
    for name, seconds in timings.items():
        print("%-14s %8.2f s" % (name, seconds))
    print("%-14s %8.2f s  (%d pairs, %.0f pairs/s)" % ("total", total, len(items),
                                                        len(items) / total))


if __name__ == "__main__":
    main()
