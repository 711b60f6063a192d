#!/usr/bin/env python3
"""Reference numbers from the real NLTK for medcap's METEOR parity tests.

Runs NLTK's own code (meteor_score, PorterStemmer, the WordNet reader) on our fixture
inputs and writes what it returns; it contains no NLTK code itself.

NLTK reads WordNet 3.0 from the same files medcap uses (the copy it ships in
assets/wordnet-3.0), copied into a temporary nltk_data/corpora/wordnet folder with a
`lexnames` file added (NLTK needs it; the names are WordNet's 45 lexicographer files).

Use NLTK >= 3.9 (Morphy changed in 3.9: one pass of suffix rules, no recursion).
Debian bookworm ships 3.8; the newest (3.10.x) can be put on PYTHONPATH, e.g. unpacked
from Debian sid's python3-nltk .deb (needs python3-regex, -joblib, -tqdm, -click,
-defusedxml).

  python3 tools/parity/meteor_reference.py scores  test/fixtures/meteor/corpus.jsonl  test/fixtures/meteor/nltk-scores.json
  python3 tools/parity/meteor_reference.py porter  WORDS  test/fixtures/meteor/porter.json
  python3 tools/parity/meteor_reference.py wordnet WORDS  test/fixtures/meteor/wordnet.json

corpus.jsonl: one JSON object a line, {"id", "candidate": [tokens], "references": [[tokens], ...]}.
WORDS: one word a line, or an earlier porter.json / wordnet.json (to recompute it with
another NLTK: give the fixture itself as input).
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "assets" / "wordnet-3.0"
NEEDED = [
    "index.noun", "index.verb", "index.adj", "index.adv",
    "data.noun", "data.verb", "data.adj", "data.adv",
]
EXCEPTIONS = ["noun.exc", "verb.exc", "adj.exc", "adv.exc"]
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food "
    "noun.group noun.location noun.motive noun.object noun.person noun.phenomenon "
    "noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative "
    "verb.weather adj.ppl"
).split()
LEX_POS = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def build_nltk_data(dict_dir):
    """A temporary nltk_data folder holding corpora/wordnet."""
    root = Path(tempfile.mkdtemp(prefix="medcap-nltk-data-"))
    target = root / "corpora" / "wordnet"
    target.mkdir(parents=True)
    source = Path(dict_dir) if dict_dir is not None else SHIPPED
    for name in NEEDED + EXCEPTIONS:
        if (source / name).exists() or not (source / f"{name}.1").exists():
            shutil.copy(source / name, target / name)
            continue
        # The shipped data.noun is kept in parts (no file over 10 MB in the repository).
        with open(target / name, "wb") as out:
            part = 1
            while (source / f"{name}.{part}").exists():
                out.write((source / f"{name}.{part}").read_bytes())
                part += 1
    with open(target / "lexnames", "w") as out:
        for number, name in enumerate(LEXNAMES):
            out.write(f"{number:02d}\t{name}\t{LEX_POS[name.split('.')[0]]}\n")
    return root, str(source)


def provenance(nltk, wordnet, source):
    return {
        "nltk_version": nltk.__version__,
        "nltk_path": os.path.dirname(nltk.__file__),
        "python": platform.python_version(),
        "wordnet_version": wordnet.get_version(),
        "wordnet_source": os.path.relpath(source, REPO) if source.startswith(str(REPO)) else source,
    }


def read_words(path):
    """One word a line, or the words of an earlier output of this script (.json)."""
    with open(path, encoding="utf-8") as handle:
        if path.endswith(".json"):
            earlier = json.load(handle)
            if "words" in earlier:
                return earlier["words"]
            return [entry["word"] for entry in earlier["entries"]]
        return [line.rstrip("\n") for line in handle if line.rstrip("\n") != ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet-dict", help="a WordNet 3.0 dict folder (default: the one medcap ships)")
    parser.add_argument("mode", choices=["scores", "porter", "wordnet"])
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()

    data_root, source = build_nltk_data(args.wordnet_dict)
    os.environ["NLTK_DATA"] = str(data_root)
    import nltk

    nltk.data.path.insert(0, str(data_root))
    from nltk.corpus import wordnet
    from nltk.stem.porter import PorterStemmer
    from nltk.translate.meteor_score import meteor_score

    major, minor = (int(part) for part in nltk.__version__.split(".")[:2])
    if (major, minor) < (3, 9):
        print(f"warning: NLTK {nltk.__version__} predates 3.9's Morphy change", file=sys.stderr)

    started = time.perf_counter()
    result = provenance(nltk, wordnet, source)  # loads WordNet
    print(f"NLTK WordNet load: {time.perf_counter() - started:.2f} s", file=sys.stderr)
    if args.mode == "scores":
        with open(args.input, encoding="utf-8") as handle:
            items = [json.loads(line) for line in handle if line.strip()]
        started = time.perf_counter()
        scores = {item["id"]: meteor_score(item["references"], item["candidate"]) for item in items}
        elapsed = time.perf_counter() - started
        pairs = sum(len(item["references"]) for item in items)
        print(f"meteor_score: {len(items)} items, {pairs} pairs in {elapsed:.2f} s", file=sys.stderr)
        result["scores"] = scores
    elif args.mode == "porter":
        stemmer = PorterStemmer()
        words = read_words(args.input)
        result["words"] = words
        result["stems"] = [stemmer.stem(word) for word in words]
    else:
        entries = []
        for word in read_words(args.input):
            morphy = {pos: wordnet._morphy(word, pos) for pos in ("n", "v", "a", "r")}
            names = {
                lemma.name()
                for synset in wordnet.synsets(word)
                for lemma in synset.lemmas()
                if "_" not in lemma.name()
            }
            entries.append({"word": word, "morphy": morphy, "synonyms": sorted(names)})
        result["entries"] = entries

    with open(args.output, "w", encoding="utf-8") as out:
        json.dump(result, out, ensure_ascii=False, indent=0 if args.mode == "scores" else None)
        out.write("\n")
    shutil.rmtree(data_root, ignore_errors=True)
    print(f"{args.mode}: wrote {args.output} with NLTK {nltk.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
