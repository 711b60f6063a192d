#!/usr/bin/env python3
"""Times the reference toolkits on a JSONL of {"id", "candidate", "references"} lines (e.g.
from `npx tsx bench/metrics.ts --dump pairs.jsonl`), for comparison with `npm run bench`:
pycocoevalcap's PTBTokenizer + Bleu(4) + Rouge + Cider; with --rouge-score, rouge_score's
ROUGE-1/2 (score_multi over each item's references, no stemmer); with --meteor, NLTK's
meteor_score on the PTB tokens (needs NLTK with its WordNet corpus installed;
meteor_reference.py sets that up itself and times the same loop).

Usage: PYTHONPATH=... python3 tools/parity/time_reference.py pairs.jsonl [--rouge-score] [--meteor]
"""
import json
import sys
import time

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer


def main():
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    gts = {it["id"]: [{"caption": r} for r in it["references"]] for it in items}
    res = {it["id"]: [{"caption": it["candidate"]}] for it in items}
    timings = {}
    start = time.perf_counter()
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
        for it in items:
            scorer.score_multi(it["references"], it["candidate"])
        timings["rouge_score"] = time.perf_counter() - t
    if "--meteor" in sys.argv:
        from nltk.translate.meteor_score import meteor_score
        t = time.perf_counter()
        for key in res_t:
            meteor_score([r.split() for r in gts_t[key]], res_t[key][0].split())
        timings["NLTK meteor"] = time.perf_counter() - t
    total = time.perf_counter() - start
    for name, seconds in timings.items():
        print("%-14s %8.2f s" % (name, seconds))
    print("%-14s %8.2f s  (%d pairs, %.0f pairs/s)" % ("total", total, len(items),
                                                        len(items) / total))


if __name__ == "__main__":
    main()
