#!/usr/bin/env bash
# `medcap evaluate` against pycocoevalcap + NLTK, timed back to back on this machine (#10 §4).
#
#   PYCOCOEVALCAP=DIR bash bench/evaluate-vs-toolkits.sh [ROUNDS] [RESULT.json]
#
# DIR holds the pycocoevalcap package (DIR/pycocoevalcap/{bleu,rouge,cider}, e.g. unpacked
# from its git repository); NLTK must be importable by `python3` (Debian: python3-nltk).
# Each round times the toolkits first (tools/parity/time_reference.py --tokens --meteor:
# Bleu(4), Rouge, Cider and NLTK's meteor_score on the pairs' coco tokens; the
# PTBTokenizer is not run, so the toolkits' time is a lower bound), then `medcap evaluate`
# with default settings on the same pairs three times (wall, user and system CPU, peak RSS
# and minor page faults from /usr/bin/time). Needs `npm run build` first. The load average
# is read before each round; the result is one JSON object a line per round.
set -euo pipefail
ROUNDS=${1:-3}
RESULT=${2:-/dev/stdout}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${BENCH_DIR:-/tmp/medcap-bench-evaluate}
PYTHON=${PYTHON:-python3}
: "${PYCOCOEVALCAP:?set PYCOCOEVALCAP to the folder that holds the pycocoevalcap package}"
mkdir -p "$DIR"
PAIRS="$DIR/pairs-60000.jsonl"
TOKENS="$DIR/tokens-60000.jsonl"
[ -f "$PAIRS" ] && [ -f "$TOKENS" ] ||
  (cd "$ROOT" && npx tsx bench/metrics.ts 60000 --dump "$PAIRS" --dump-tokens "$TOKENS" >&2)

: >"$RESULT.tmp"
for round in $(seq 1 "$ROUNDS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  toolkits=$(cd "$ROOT/tools/parity" && PYTHONPATH="$PYCOCOEVALCAP" "$PYTHON" time_reference.py \
    "$TOKENS" --tokens --meteor --json)
  medcap=()
  for _ in 1 2 3; do
    measured=$(/usr/bin/time -f '%e %U %S %M %R' node "$ROOT/dist/cli/bin.js" evaluate \
      --captions "$PAIRS" --out "$DIR/out-toolkits" 2>&1 >/dev/null | tail -1)
    read -r wall user sys rss faults <<<"$measured"
    medcap+=("{\"wall_s\": $wall, \"user_s\": $user, \"sys_s\": $sys, \"peak_rss_kib\": $rss, \"minor_faults\": $faults}")
  done
  line="{\"round\": $round, \"load_average_before\": $load, \"toolkits\": $toolkits, \"medcap_evaluate\": [$(IFS=,; echo "${medcap[*]}")]}"
  echo "$line" >&2
  echo "$line" >>"$RESULT.tmp"
done
mv "$RESULT.tmp" "$RESULT"
