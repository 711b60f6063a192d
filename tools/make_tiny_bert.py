#!/usr/bin/env python3
"""Tiny random-weight BERT and RoBERTa encoders for medcap's BERTScore tests, and a
PyTorch reference computation of BERTScore on them.

Two steps:

  python3 tools/make_tiny_bert.py build
      numpy only. Writes
        models/tiny-bert/                       BERT, WordPiece vocab, ONNX with last_hidden_state
        test/fixtures/bertscore/tiny-roberta/   RoBERTa, byte-level BPE, ONNX of a masked-LM
                                                (only `logits` as output, like Hub fill-mask exports)
        test/fixtures/bertscore/pairs.json      the fixed caption pairs
      Each folder is laid out as Transformers.js loads it (config.json, tokenizer.json,
      tokenizer_config.json, onnx/model.onnx). The ONNX graph is written by this script
      (protobuf by hand, opset 14, LayerNorm decomposed, node names as the TorchScript
      exporter / Optimum writes them: /encoder/layer.N/...), so the models are byte-for-byte
      reproducible and need no torch to build.

  python3 tools/make_tiny_bert.py reference --out DIR
      needs torch, transformers (5), onnx, onnxruntime, tokenizers. Loads the weights back
      from the ONNX initializers into transformers' BertModel / RobertaModel, checks that
      ONNX Runtime and PyTorch agree on the hidden states, and computes BERTScore the way
      the bert_score package does (sent_encode with truncation at model_max_length and a
      prefix space for RoBERTa, [CLS]/[SEP] kept in the matching with weight 0, greedy
      cosine matching, idf from the references with +1 smoothing, elementwise max over
      several references, empty sentences scored 0). Writes DIR/reference.json; commit it
      as test/fixtures/bertscore/reference.json.

  python3 tools/make_tiny_bert.py reference --out DIR --bert-score
      also runs the bert_score package (put a copy on PYTHONPATH; nothing of it is committed)
      on the same weights and logs max |ours - bert_score| per layer / idf / batch size. The
      committed reference.json came from this on the GPU machine (torch 2.11, transformers
      5.17) with bert_score 0.3.13's sent_encode adapted to transformers 5 (no slow tokenizers
      there: empty sentence -> [CLS, SEP] ids, RoBERTa prefix space as " " + text): every
      value agreed to 2.4e-7 with batch_size=1; with batch_size=64 up to 1.9e-3 (the padding
      effect below; the tiny random models have negative cosines, real models hardly any).

Known deviation of the reference from bert_score, on purpose (medcap does the same): each
candidate/reference pair is matched on its own, so padding never enters the max (bert_score
pads pairs of a batch to a common length and its masked padding scores 0, which can win the
max when every real similarity of a token is negative: with batch_size=1 it equals ours); a
precision or recall that is NaN (every token weighted 0) is reported as 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
from collections import Counter

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BERT_DIR = os.path.join(ROOT, "models", "tiny-bert")
FIXTURE_DIR = os.path.join(ROOT, "test", "fixtures", "bertscore")
ROBERTA_DIR = os.path.join(FIXTURE_DIR, "tiny-roberta")
PAIRS_FILE = os.path.join(FIXTURE_DIR, "pairs.json")

MAX_LEN = 64  # model_max_length of both tokenizers (short, so truncation is exercised)
HIDDEN = 32
LAYERS = 2
HEADS = 2
INTERMEDIATE = 64
SEED = 20240611

# --------------------------------------------------------------------------------------
# Text: a medical word list (for the vocabularies) and fixed caption pairs
# --------------------------------------------------------------------------------------

WORDS = """
the a an of in on at to with and or no not is are was were be been shows showing show
demonstrates demonstrating reveals revealing seen there this that these which from by
for as into within without after before during between through over under left right
bilateral unilateral anterior posterior superior inferior medial lateral proximal distal
upper lower mid central peripheral axial coronal sagittal oblique view image images
scan scans ct mri mr x ray xray radiograph radiography chest abdomen abdominal pelvis
pelvic head neck brain spine spinal cervical thoracic lumbar sacral skull face orbit
lung lungs pulmonary heart cardiac liver hepatic kidney renal spleen pancreas bladder
bowel colon stomach gallbladder aorta artery arteries vein veins vessel vessels bone
bones femur tibia humerus rib ribs vertebra vertebral disc joint knee hip shoulder
ankle wrist hand foot muscle tendon ligament breast thyroid prostate uterus ovary
mass masses lesion lesions nodule nodules tumor tumour cyst cysts fracture fractures
effusion effusions edema oedema hemorrhage haemorrhage infarct infarction stenosis
occlusion thrombus embolism aneurysm dissection calcification calcifications
consolidation opacity opacities atelectasis pneumothorax pneumonia emphysema fibrosis
metastasis metastases abscess inflammation enhancement enhancing hypodense hyperdense
hypointense hyperintense heterogeneous homogeneous irregular smooth well defined
ill large small multiple single diffuse focal mild moderate severe acute chronic
normal abnormal arrow arrows arrowhead arrowheads contrast enhanced weighted t1 t2
flair dwi ultrasound sonography doppler angiography pet nuclear scintigraphy
mammography echocardiography fluoroscopy patient year old male female man woman
child infant history pain fever cough trauma surgery postoperative follow up
measuring mm cm size sign signs finding findings suggestive consistent compatible
likely possible suspected evidence area region wall space fluid air gas fat tissue
soft density signal intensity margin margins border shadow level dilated dilatation
thickening narrowing displacement compression obstruction collapse widening
""".split()

# Common subword pieces (continuations) for the WordPiece vocabulary.
SUFFIXES = """s es ed ing al ic ion ions ity ous ive ly ment ness ar ary ia ial itis osis
oma omas ectomy graphy gram logy er ers ent ence ance ical""".split()

# (id, candidate, references). Covers: exact match, paraphrase, several references,
# empty and blank candidates, an empty reference, case and accents, digits and units,
# punctuation and brackets, repeated sentences, a CJK character (unknown to WordPiece),
# double spaces and a newline, and captions longer than the 64-token limit.
LONG_A = (
    "Axial contrast enhanced CT of the abdomen and pelvis shows a large heterogeneous mass "
    "in the right kidney with central necrosis, multiple enhancing nodules in the liver, "
    "retroperitoneal lymphadenopathy, a small left pleural effusion, mild ascites, and "
    "thrombus extending into the renal vein and the inferior vena cava, consistent with "
    "advanced renal cell carcinoma with hepatic metastases (arrows)."
)
LONG_B = (
    "Coronal T2 weighted MRI of the lumbar spine demonstrates multilevel degenerative disc "
    "disease with disc bulges at L3-L4 and L4-L5, severe central canal stenosis at L4-L5, "
    "bilateral foraminal narrowing, facet joint hypertrophy, and a small synovial cyst on the "
    "left side compressing the traversing nerve root, without fracture or marrow edema."
)
PAIRS = [
    ("p01", "Chest X-ray shows a right lower lobe consolidation.", ["Chest X-ray shows a right lower lobe consolidation."]),
    ("p02", "Axial CT image showing a hypodense lesion in the liver.", ["Axial contrast enhanced CT demonstrating a hypodense hepatic lesion (arrow)."]),
    ("p03", "MRI of the brain with a large mass.", ["T2 weighted MRI of the brain reveals a heterogeneous mass.", "Brain MRI shows a tumor in the left frontal lobe.", "Axial FLAIR image with edema around a mass."]),
    ("p04", "", ["Ultrasound of the gallbladder shows multiple stones."]),
    ("p05", "   ", ["Normal chest radiograph."]),
    ("p06", "Fracture of the left femur.", ["Displaced fracture of the left femoral neck (arrowhead)."]),
    ("p07", "Bilateral pleural effusions.", ["Bilateral pleural effusions, larger on the right.", "Small bilateral effusions."]),
    ("p08", "Sjögren's syndrome with parotid cysts.", ["Parotid glands with multiple cysts in a patient with Sjögren syndrome."]),
    ("p09", "Nodule measuring 12 mm in the right upper lobe.", ["A 12-mm nodule in the right upper lobe (arrow)."]),
    ("p10", "CT angiography shows an aortic dissection.", ["CT angiography demonstrating a Stanford type A aortic dissection."]),
    ("p11", LONG_A, ["Contrast enhanced CT showing a right renal mass with liver metastases and tumour thrombus in the inferior vena cava."]),
    ("p12", "Lumbar spine MRI with disc disease.", [LONG_B]),
    ("p13", LONG_B, [LONG_A, "Sagittal MRI of the lumbar spine with severe stenosis."]),
    ("p14", "Chest X-ray shows a right lower lobe consolidation.", ["Pneumonia in the right lower lobe.", "Right basal consolidation."]),
    ("p15", "PET/CT: intense FDG uptake in a lung nodule.", ["PET-CT showing a hypermetabolic pulmonary nodule."]),
    ("p16", "No acute findings.", ["Normal study."]),
    ("p17", "Echocardiography shows pericardial effusion!!!", ["Echocardiogram: large pericardial effusion."]),
    ("p18", "Doppler ultrasound of the left leg: deep vein thrombosis.", ["Thrombus in the left femoral vein on Doppler."]),
    ("p19", "肺 nodule on CT.", ["Pulmonary nodule on CT."]),
    ("p20", "Knee  MRI\nshows a torn meniscus.", ["MRI of the knee with a meniscal tear."]),
    ("p21", "Mammography with clustered calcifications.", ["Mammogram showing clustered microcalcifications in the left breast."]),
    ("p22", "Skull radiograph.", ["Lateral skull radiograph showing multiple lytic lesions."]),
    ("p23", "Thyroid ultrasound: a hypoechoic nodule with calcifications.", ["Ultrasound of the thyroid showing a solid hypoechoic nodule."]),
    ("p24", "Renal cyst.", ["Simple cyst of the right kidney.", "Bosniak I renal cyst.", "Cyst in the kidney."]),
    ("p25", "the the the the", ["the lesion in the liver"]),
    ("p26", "Pneumothorax on the right side with lung collapse.", ["Large right pneumothorax with complete collapse of the right lung."]),
    ("p27", "CT head: acute subdural hemorrhage.", ["Non-contrast CT of the head shows an acute left subdural haematoma."]),
    ("p28", "Axial CT image showing a hypodense lesion in the liver.", ["Hypodense liver lesion on CT."]),
    ("p29", "Abdominal X-ray: dilated small bowel loops.", ["Supine abdominal radiograph with dilated loops of small bowel suggesting obstruction."]),
    ("p30", "Shoulder MRI (T1-weighted).", ["T1 weighted MRI of the shoulder.", ""]),
    ("p31", "Pulmonary embolism in the right main pulmonary artery.", ["CT pulmonary angiogram: filling defect in the right pulmonary artery consistent with embolism."]),
    ("p32", "Normal chest radiograph.", ["Normal chest radiograph."]),
]

# --------------------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------------------

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # <mask> goes last


def bert_vocab() -> list[str]:
    vocab = list(BERT_SPECIALS)
    seen = set(vocab)

    def add(tok: str) -> None:
        if tok not in seen:
            seen.add(tok)
            vocab.append(tok)

    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    for c in chars + punct:
        add(c)
    for c in chars:
        add("##" + c)
    for s in SUFFIXES:
        add("##" + s)
    for w in WORDS:
        add(w)
    return vocab


def bert_tokenizer_json(vocab: list[str]) -> dict:
    ids = {t: i for i, t in enumerate(vocab)}
    added = [
        {"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for t in BERT_SPECIALS
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [ids["[CLS]"]], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [ids["[SEP]"]], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def bytes_to_unicode() -> dict[int, str]:
    """The reversible byte -> printable character map of byte-level BPE (GPT-2)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    out = {}
    extra = 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def train_byte_bpe(words: list[str], merges_wanted: int) -> list[tuple[str, str]]:
    """Plain BPE training on byte-level symbols; deterministic tie-break."""
    b2u = bytes_to_unicode()
    freq: Counter = Counter()
    for w in words:
        for form in (w, " " + w, w.capitalize(), " " + w.capitalize()):
            freq[tuple(b2u[b] for b in form.encode("utf-8"))] += 1
    words_syms = {k: list(k) for k in freq}
    merges: list[tuple[str, str]] = []
    for _ in range(merges_wanted):
        pairs: Counter = Counter()
        for k, syms in words_syms.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += freq[k]
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], tuple(-ord(c) for c in kv[0][0] + "\0" + kv[0][1])))[0]
        merges.append(best)
        for k, syms in words_syms.items():
            i = 0
            out = []
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == best[0] and syms[i + 1] == best[1]:
                    out.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words_syms[k] = out
    return merges


def roberta_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    b2u = bytes_to_unicode()
    vocab: dict[str, int] = {}
    for t in ROBERTA_SPECIALS:
        vocab[t] = len(vocab)
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    merges = train_byte_bpe(WORDS + SUFFIXES, 300)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    vocab["<mask>"] = len(vocab)
    return vocab, merges


def roberta_tokenizer_json(vocab: dict[str, int], merges: list[tuple[str, str]]) -> dict:
    added = []
    for t in ROBERTA_SPECIALS + ["<mask>"]:
        added.append({"id": vocab[t], "content": t, "single_word": False, "lstrip": t == "<mask>",
                      "rstrip": False, "normalized": False, "special": True})
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", vocab["</s>"]],
                           "cls": ["<s>", vocab["<s>"]], "trim_offsets": True,
                           "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }


# --------------------------------------------------------------------------------------
# Weights (numpy, seeded). Names are the transformers state-dict keys; linear weights are
# [out, in] as in torch.
# --------------------------------------------------------------------------------------


def make_weights(prefix: str, vocab_size: int, max_pos: int, type_vocab: int, lm_head: bool,
                 seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    w: dict[str, np.ndarray] = {}
    p = prefix
    w[p + "embeddings.word_embeddings.weight"] = normal((vocab_size, HIDDEN), 1.0)
    w[p + "embeddings.position_embeddings.weight"] = normal((max_pos, HIDDEN), 0.5)
    w[p + "embeddings.token_type_embeddings.weight"] = normal((type_vocab, HIDDEN), 0.3)
    w[p + "embeddings.LayerNorm.weight"] = (1 + normal((HIDDEN,), 0.1)).astype(np.float32)
    w[p + "embeddings.LayerNorm.bias"] = normal((HIDDEN,), 0.1)

    def linear(name, n_in, n_out, gain=1.0):
        w[name + ".weight"] = normal((n_out, n_in), gain / math.sqrt(n_in))
        w[name + ".bias"] = normal((n_out,), 0.1)

    for i in range(LAYERS):
        lp = f"{p}encoder.layer.{i}."
        linear(lp + "attention.self.query", HIDDEN, HIDDEN, 2.0)
        linear(lp + "attention.self.key", HIDDEN, HIDDEN, 2.0)
        linear(lp + "attention.self.value", HIDDEN, HIDDEN)
        linear(lp + "attention.output.dense", HIDDEN, HIDDEN)
        w[lp + "attention.output.LayerNorm.weight"] = (1 + normal((HIDDEN,), 0.1)).astype(np.float32)
        w[lp + "attention.output.LayerNorm.bias"] = normal((HIDDEN,), 0.1)
        linear(lp + "intermediate.dense", HIDDEN, INTERMEDIATE)
        linear(lp + "output.dense", INTERMEDIATE, HIDDEN)
        w[lp + "output.LayerNorm.weight"] = (1 + normal((HIDDEN,), 0.1)).astype(np.float32)
        w[lp + "output.LayerNorm.bias"] = normal((HIDDEN,), 0.1)
    if lm_head:
        linear("lm_head.dense", HIDDEN, HIDDEN)
        w["lm_head.layer_norm.weight"] = (1 + normal((HIDDEN,), 0.1)).astype(np.float32)
        w["lm_head.layer_norm.bias"] = normal((HIDDEN,), 0.1)
        w["lm_head.bias"] = normal((vocab_size,), 0.1)
    return w


# --------------------------------------------------------------------------------------
# ONNX writer: protobuf encoded by hand (onnx.proto field numbers), no onnx package needed.
# --------------------------------------------------------------------------------------

FLOAT, INT64 = 1, 7


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _f_int(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(n)


def _f_bytes(field: int, b: bytes) -> bytes:
    return _key(field, 2) + _varint(len(b)) + b


def _f_str(field: int, s: str) -> bytes:
    return _f_bytes(field, s.encode("utf-8"))


def _f_float(field: int, x: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", x)


def tensor_proto(name: str, arr: np.ndarray) -> bytes:
    if arr.dtype == np.float32:
        dt = FLOAT
    elif arr.dtype == np.int64:
        dt = INT64
    else:
        raise ValueError(arr.dtype)
    out = b"".join(_f_int(1, d) for d in arr.shape)
    out += _f_int(2, dt) + _f_str(8, name)
    out += _f_bytes(9, np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes())
    return out


def attr_proto(name: str, value) -> bytes:
    out = _f_str(1, name)
    if isinstance(value, float):
        return out + _f_float(2, value) + _f_int(20, 1)
    if isinstance(value, int):
        return out + _f_int(3, value) + _f_int(20, 2)
    if isinstance(value, list):
        return out + b"".join(_f_int(8, v) for v in value) + _f_int(20, 7)
    raise ValueError(value)


def value_info(name: str, elem: int, dims: list) -> bytes:
    dim_bytes = b""
    for d in dims:
        dim = _f_int(1, d) if isinstance(d, int) else _f_str(2, d)
        dim_bytes += _f_bytes(1, dim)
    tensor_type = _f_int(1, elem) + _f_bytes(2, dim_bytes)
    return _f_str(1, name) + _f_bytes(2, _f_bytes(1, tensor_type))


class Graph:
    def __init__(self) -> None:
        self.nodes: list[bytes] = []
        self.inits: list[bytes] = []
        self.init_names: set[str] = set()
        self.count: Counter = Counter()

    def init(self, name: str, arr: np.ndarray) -> str:
        if name not in self.init_names:
            self.init_names.add(name)
            self.inits.append(tensor_proto(name, arr))
        return name

    def const(self, value, dtype=np.float32) -> str:
        arr = np.array(value, dtype=dtype)
        key = f"onnx::Constant_{arr.dtype}_{'x'.join(map(str, arr.shape))}_" + "_".join(
            str(v) for v in arr.reshape(-1).tolist())
        return self.init(key, arr)

    def node(self, scope: str, op: str, inputs: list[str], attrs: dict | None = None,
             output: str | None = None) -> str:
        n = self.count[(scope, op)]
        self.count[(scope, op)] += 1
        name = f"{scope}/{op}" + (f"_{n}" if n else "")
        out = output or f"{name}_output_0"
        body = b"".join(_f_str(1, i) for i in inputs) + _f_str(2, out) + _f_str(3, name) + _f_str(4, op)
        for k, v in (attrs or {}).items():
            body += _f_bytes(5, attr_proto(k, v))
        self.nodes.append(body)
        return out

    def model(self, inputs: list[bytes], outputs: list[bytes], doc: str) -> bytes:
        g = b"".join(_f_bytes(1, n) for n in self.nodes)
        g += _f_str(2, "main_graph")
        g += b"".join(_f_bytes(5, t) for t in self.inits)
        g += b"".join(_f_bytes(11, i) for i in inputs)
        g += b"".join(_f_bytes(12, o) for o in outputs)
        m = _f_int(1, 8) + _f_str(2, "medcap tools/make_tiny_bert.py") + _f_str(3, "1")
        m += _f_str(6, doc)
        m += _f_bytes(7, g)
        m += _f_bytes(8, _f_str(1, "") + _f_int(2, 14))
        return m


def layer_norm(g: Graph, scope: str, x: str, weight: str, bias: str, eps: float,
               output: str | None = None) -> str:
    mean = g.node(scope, "ReduceMean", [x], {"axes": [-1], "keepdims": 1})
    d = g.node(scope, "Sub", [x, mean])
    d2 = g.node(scope, "Pow", [d, g.const(2.0)])
    var = g.node(scope, "ReduceMean", [d2], {"axes": [-1], "keepdims": 1})
    ve = g.node(scope, "Add", [var, g.const(eps)])
    sd = g.node(scope, "Sqrt", [ve])
    n = g.node(scope, "Div", [d, sd])
    ng = g.node(scope, "Mul", [n, weight])
    return g.node(scope, "Add", [ng, bias], output=output)


def linear_nodes(g: Graph, scope: str, x: str, w: dict, key: str) -> str:
    wt = g.init(key + ".weight.T", np.ascontiguousarray(w[key + ".weight"].T))
    b = g.init(key + ".bias", w[key + ".bias"])
    y = g.node(scope, "MatMul", [x, wt])
    return g.node(scope, "Add", [y, b])


def gelu(g: Graph, scope: str, x: str) -> str:
    t = g.node(scope, "Div", [x, g.const(math.sqrt(2.0))])
    e = g.node(scope, "Erf", [t])
    e1 = g.node(scope, "Add", [e, g.const(1.0)])
    m = g.node(scope, "Mul", [x, e1])
    return g.node(scope, "Mul", [m, g.const(0.5)])


def build_onnx(kind: str, w: dict[str, np.ndarray], eps: float, pad_id: int) -> bytes:
    """kind: 'bert' (BertModel, output last_hidden_state) or 'roberta' (RobertaForMaskedLM,
    output logits only)."""
    g = Graph()
    wp = "roberta." if kind == "roberta" else ""  # state-dict key prefix
    sp = "/roberta" if kind == "roberta" else ""  # node-name scope prefix

    def P(key: str) -> str:  # a weight used as it is, as an initializer named by its key
        return g.init(key, w[key])

    # embeddings
    es = f"{sp}/embeddings"
    word = g.node(f"{es}/word_embeddings", "Gather", [P(wp + "embeddings.word_embeddings.weight"), "input_ids"])
    zeros = g.node(es, "Mul", ["input_ids", g.const(0, np.int64)])
    if kind == "bert":
        ones = g.node(es, "Add", [zeros, g.const(1, np.int64)])
        cs = g.node(es, "CumSum", [ones, g.const(1, np.int64)])
        pos_ids = g.node(es, "Sub", [cs, g.const(1, np.int64)])
        types = "token_type_ids"
    else:
        eq = g.node(es, "Equal", ["input_ids", g.const(pad_id, np.int64)])
        ne = g.node(es, "Not", [eq])
        m = g.node(es, "Cast", [ne], {"to": INT64})
        cs = g.node(es, "CumSum", [m, g.const(1, np.int64)])
        inc = g.node(es, "Mul", [cs, m])
        pos_ids = g.node(es, "Add", [inc, g.const(pad_id, np.int64)])
        types = zeros
    tt = g.node(f"{es}/token_type_embeddings", "Gather", [P(wp + "embeddings.token_type_embeddings.weight"), types])
    pe = g.node(f"{es}/position_embeddings", "Gather", [P(wp + "embeddings.position_embeddings.weight"), pos_ids])
    s1 = g.node(es, "Add", [word, tt])
    s2 = g.node(es, "Add", [s1, pe])
    x = layer_norm(g, f"{es}/LayerNorm", s2, P(wp + "embeddings.LayerNorm.weight"),
                   P(wp + "embeddings.LayerNorm.bias"), eps)
    # additive attention mask [b, 1, 1, s]
    mf = g.node(sp or "", "Cast", ["attention_mask"], {"to": FLOAT})
    m4 = g.node(sp or "", "Unsqueeze", [mf, g.const([1, 2], np.int64)])
    inv = g.node(sp or "", "Sub", [g.const(1.0), m4])
    ext = g.node(sp or "", "Mul", [inv, g.const(float(np.finfo(np.float32).min))])
    dh = HIDDEN // HEADS
    for i in range(LAYERS):
        ls = f"{sp}/encoder/layer.{i}"
        lk = f"{wp}encoder.layer.{i}."
        att = f"{ls}/attention/self"
        q = linear_nodes(g, f"{att}/query", x, w, lk + "attention.self.query")
        k = linear_nodes(g, f"{att}/key", x, w, lk + "attention.self.key")
        v = linear_nodes(g, f"{att}/value", x, w, lk + "attention.self.value")
        heads_shape = g.const([0, 0, HEADS, dh], np.int64)
        qh = g.node(att, "Transpose", [g.node(att, "Reshape", [q, heads_shape])], {"perm": [0, 2, 1, 3]})
        kt = g.node(att, "Transpose", [g.node(att, "Reshape", [k, heads_shape])], {"perm": [0, 2, 3, 1]})
        vh = g.node(att, "Transpose", [g.node(att, "Reshape", [v, heads_shape])], {"perm": [0, 2, 1, 3]})
        sc = g.node(att, "MatMul", [qh, kt])
        sc = g.node(att, "Div", [sc, g.const(math.sqrt(dh))])
        sc = g.node(att, "Add", [sc, ext])
        pr = g.node(att, "Softmax", [sc], {"axis": -1})
        ctx = g.node(att, "MatMul", [pr, vh])
        ctx = g.node(att, "Transpose", [ctx], {"perm": [0, 2, 1, 3]})
        ctx = g.node(att, "Reshape", [ctx, g.const([0, 0, HIDDEN], np.int64)])
        ao = linear_nodes(g, f"{ls}/attention/output/dense", ctx, w, lk + "attention.output.dense")
        ao = g.node(f"{ls}/attention/output", "Add", [ao, x])
        ao = layer_norm(g, f"{ls}/attention/output/LayerNorm", ao, P(lk + "attention.output.LayerNorm.weight"),
                        P(lk + "attention.output.LayerNorm.bias"), eps)
        it = linear_nodes(g, f"{ls}/intermediate/dense", ao, w, lk + "intermediate.dense")
        it = gelu(g, f"{ls}/intermediate/intermediate_act_fn", it)
        o = linear_nodes(g, f"{ls}/output/dense", it, w, lk + "output.dense")
        o = g.node(f"{ls}/output", "Add", [o, ao])
        last = kind == "bert" and i == LAYERS - 1
        x = layer_norm(g, f"{ls}/output/LayerNorm", o, P(lk + "output.LayerNorm.weight"),
                       P(lk + "output.LayerNorm.bias"), eps, output="last_hidden_state" if last else None)
    dyn = ["batch_size", "sequence_length"]
    inputs = [value_info("input_ids", INT64, dyn), value_info("attention_mask", INT64, dyn)]
    if kind == "bert":
        inputs.append(value_info("token_type_ids", INT64, dyn))
        outputs = [value_info("last_hidden_state", FLOAT, dyn + [HIDDEN])]
        doc = "tiny random BertModel for tests (medcap tools/make_tiny_bert.py)"
    else:
        h = linear_nodes(g, "/lm_head/dense", x, w, "lm_head.dense")
        h = gelu(g, "/lm_head", h)
        h = layer_norm(g, "/lm_head/layer_norm", h, P("lm_head.layer_norm.weight"), P("lm_head.layer_norm.bias"), eps)
        dec = g.init("lm_head.decoder.weight.T", np.ascontiguousarray(w[wp + "embeddings.word_embeddings.weight"].T))
        lg = g.node("/lm_head/decoder", "MatMul", [h, dec])
        g.node("/lm_head/decoder", "Add", [lg, g.init("lm_head.bias", w["lm_head.bias"])], output="logits")
        vocab = w[wp + "embeddings.word_embeddings.weight"].shape[0]
        outputs = [value_info("logits", FLOAT, dyn + [vocab])]
        doc = "tiny random RobertaForMaskedLM for tests (medcap tools/make_tiny_bert.py)"
    return g.model(inputs, outputs, doc)


# --------------------------------------------------------------------------------------
# numpy forward pass (float64), used by `build` to print hidden states for a local check
# --------------------------------------------------------------------------------------


def np_forward(kind: str, w: dict, ids: list[list[int]], mask: list[list[int]], eps: float,
               pad_id: int) -> list[np.ndarray]:
    wp = "roberta." if kind == "roberta" else ""
    ids_a = np.array(ids, dtype=np.int64)
    mask_a = np.array(mask, dtype=np.float64)
    g = {k: v.astype(np.float64) for k, v in w.items()}
    if kind == "bert":
        pos = np.broadcast_to(np.arange(ids_a.shape[1]), ids_a.shape)
    else:
        m = (ids_a != pad_id).astype(np.int64)
        pos = np.cumsum(m, axis=1) * m + pad_id

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * g[p + ".weight"] + g[p + ".bias"]

    def lin(x, p):
        return x @ g[p + ".weight"].T + g[p + ".bias"]

    erf = np.vectorize(math.erf)
    x = g[wp + "embeddings.word_embeddings.weight"][ids_a]
    x = x + g[wp + "embeddings.token_type_embeddings.weight"][np.zeros_like(ids_a)]
    x = x + g[wp + "embeddings.position_embeddings.weight"][pos]
    x = ln(x, wp + "embeddings.LayerNorm")
    states = [x]
    b, s = ids_a.shape
    dh = HIDDEN // HEADS
    ext = (1.0 - mask_a)[:, None, None, :] * np.finfo(np.float32).min
    for i in range(LAYERS):
        lk = f"{wp}encoder.layer.{i}."

        def heads(t):
            return t.reshape(b, s, HEADS, dh).transpose(0, 2, 1, 3)

        q = heads(lin(x, lk + "attention.self.query"))
        k = heads(lin(x, lk + "attention.self.key"))
        v = heads(lin(x, lk + "attention.self.value"))
        sc = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh) + ext
        sc = sc - sc.max(-1, keepdims=True)
        pr = np.exp(sc)
        pr = pr / pr.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(b, s, HIDDEN)
        ao = ln(lin(ctx, lk + "attention.output.dense") + x, lk + "attention.output.LayerNorm")
        it = lin(ao, lk + "intermediate.dense")
        it = it * 0.5 * (1.0 + erf(it / math.sqrt(2.0)))
        x = ln(lin(it, lk + "output.dense") + ao, lk + "output.LayerNorm")
        states.append(x)
    return states


# --------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def build() -> None:
    # BERT
    vocab = bert_vocab()
    wb = make_weights("", len(vocab), MAX_LEN, 2, False, SEED)
    os.makedirs(os.path.join(BERT_DIR, "onnx"), exist_ok=True)
    write_json(os.path.join(BERT_DIR, "config.json"), {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(vocab),
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INTERMEDIATE, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "max_position_embeddings": MAX_LEN,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0, "position_embedding_type": "absolute", "torch_dtype": "float32",
    })
    write_json(os.path.join(BERT_DIR, "tokenizer.json"), bert_tokenizer_json(vocab))
    write_json(os.path.join(BERT_DIR, "tokenizer_config.json"), {
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": MAX_LEN,
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
        "mask_token": "[MASK]", "strip_accents": None, "tokenize_chinese_chars": True,
        "clean_up_tokenization_spaces": True,
    })
    with open(os.path.join(BERT_DIR, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(BERT_DIR, "onnx", "model.onnx"), "wb") as f:
        f.write(build_onnx("bert", wb, 1e-12, 0))

    # RoBERTa (masked-LM export)
    rv, merges = roberta_vocab()
    wr = make_weights("roberta.", len(rv), MAX_LEN + 2, 1, True, SEED + 1)
    os.makedirs(os.path.join(ROBERTA_DIR, "onnx"), exist_ok=True)
    write_json(os.path.join(ROBERTA_DIR, "config.json"), {
        "architectures": ["RobertaForMaskedLM"], "model_type": "roberta", "vocab_size": len(rv),
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INTERMEDIATE, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "max_position_embeddings": MAX_LEN + 2,
        "type_vocab_size": 1, "initializer_range": 0.02, "layer_norm_eps": 1e-5,
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
        "position_embedding_type": "absolute", "torch_dtype": "float32",
    })
    write_json(os.path.join(ROBERTA_DIR, "tokenizer.json"), roberta_tokenizer_json(rv, merges))
    write_json(os.path.join(ROBERTA_DIR, "tokenizer_config.json"), {
        "tokenizer_class": "RobertaTokenizer", "model_max_length": MAX_LEN, "bos_token": "<s>",
        "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
        "pad_token": "<pad>", "mask_token": "<mask>", "add_prefix_space": False,
        "errors": "replace", "trim_offsets": True,
    })
    write_json(os.path.join(ROBERTA_DIR, "vocab.json"), rv)
    with open(os.path.join(ROBERTA_DIR, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    with open(os.path.join(ROBERTA_DIR, "onnx", "model.onnx"), "wb") as f:
        f.write(build_onnx("roberta", wr, 1e-5, 1))

    write_json(PAIRS_FILE, [{"id": i, "candidate": c, "references": r} for i, c, r in PAIRS])

    # numpy hidden states on fixed ids, for a local check of the ONNX graphs
    check = {}
    for kind, w, eps, pad in (("bert", wb, 1e-12, 0), ("roberta", wr, 1e-5, 1)):
        ids = [[2, 40, 41, 42, 43, 3], [2, 50, 51, 3, pad, pad]] if kind == "bert" else \
            [[0, 300, 301, 302, 303, 2], [0, 310, 311, 2, pad, pad]]
        mask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]
        states = np_forward(kind, w, ids, mask, eps, pad)
        check[kind] = {"input_ids": ids, "attention_mask": mask,
                       "hidden_states": [s.tolist() for s in states]}
    write_json(os.path.join(ROOT, "tmp", "tiny_numpy_check.json"), check)
    print(f"bert vocab {len(vocab)}, roberta vocab {len(rv)} ({len(merges)} merges)")


# --------------------------------------------------------------------------------------
# reference (torch)
# --------------------------------------------------------------------------------------


def reference(out_dir: str, with_bert_score: bool) -> None:
    import torch
    import transformers
    from transformers import AutoConfig, AutoTokenizer, BertModel, RobertaModel

    torch.manual_seed(0)
    log = []

    def say(*a):
        msg = " ".join(str(x) for x in a)
        log.append(msg)
        print(msg, flush=True)

    say("torch", torch.__version__, "transformers", transformers.__version__)
    pairs = json.load(open(PAIRS_FILE, encoding="utf-8"))
    result = {
        "generator": "tools/make_tiny_bert.py reference",
        "torch": torch.__version__, "transformers": transformers.__version__,
        "notes": __doc__.split("Known deviation")[1].strip() if "Known deviation" in __doc__ else "",
        "pairs": pairs, "models": {},
    }

    for name, folder, kind in (("tiny-bert", BERT_DIR, "bert"), ("tiny-roberta", ROBERTA_DIR, "roberta")):
        entry: dict = {"path": os.path.relpath(folder, ROOT)}
        result["models"][name] = entry
        try:
            weights = load_onnx_weights(os.path.join(folder, "onnx", "model.onnx"), kind)
            config = AutoConfig.from_pretrained(folder)
            try:
                config._attn_implementation = "eager"
            except Exception as e:  # noqa: BLE001
                say("attn_implementation not set:", e)
            cls = BertModel if kind == "bert" else RobertaModel
            model = cls(config, add_pooling_layer=False)
            weights = match_state_dict(model, weights, say)
            missing, unexpected = model.load_state_dict(weights, strict=False)
            missing = [m for m in missing if not m.endswith("position_ids") and "token_type_ids" not in m]
            say(name, "missing keys:", missing, "unexpected:", unexpected)
            if missing:
                raise RuntimeError(f"weights missing for {missing}")
            model.eval()
            tok = load_tokenizer(folder, say)
            entry["tokenizer_class"] = type(tok).__name__
            check_onnx(folder, kind, model, tok, say, entry)
            score_reference(model, tok, kind, folder, pairs, entry, say)
            if with_bert_score:
                run_bert_score(model, tok, pairs, entry, say)
        except Exception as e:  # noqa: BLE001
            import traceback
            entry["error"] = traceback.format_exc()
            say(name, "FAILED:", e)
            traceback.print_exc()

    result["log"] = log
    os.makedirs(out_dir, exist_ok=True)

    def clean(o):  # JSON has no NaN
        if isinstance(o, float) and math.isnan(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(clean(result), f, ensure_ascii=False, indent=1, allow_nan=False)
        f.write("\n")
    say("wrote", os.path.join(out_dir, "reference.json"))


def match_state_dict(model, weights: dict, say) -> dict:
    """Our names are the transformers 4 state-dict keys; map by a normalised name where a
    newer transformers renamed a module."""
    want = set(model.state_dict().keys())
    if all(k in want for k in weights):
        return weights

    def norm(k: str) -> str:
        return k.lower().replace("_", "").replace("layernorm", "ln")

    by_norm = {norm(k): k for k in want}
    out = {}
    for k, v in weights.items():
        target = k if k in want else by_norm.get(norm(k))
        if target is None:
            say("no place for weight", k)
            continue
        out[target] = v
    return out


def load_tokenizer(folder: str, say):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder)
    except Exception as e:  # noqa: BLE001
        say("AutoTokenizer failed, using PreTrainedTokenizerFast:", e)
        from transformers import PreTrainedTokenizerFast

        cfg = json.load(open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8"))
        cfg.pop("tokenizer_class", None)
        return PreTrainedTokenizerFast(tokenizer_file=os.path.join(folder, "tokenizer.json"), **cfg)


def run_bert_score(model, tok, pairs, entry, say) -> None:
    """The bert_score package itself on the same weights (saved to a temporary folder), for
    every layer and idf setting, with batch_size 1 (no padding in the matching, as medcap)
    and 64 (its default)."""
    import tempfile

    try:
        import bert_score

        tmp = tempfile.mkdtemp()
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        cands = [p["candidate"] for p in pairs]
        refs = [p["references"] for p in pairs]
        out = []
        for layer in range(0, LAYERS + 1):
            for use_idf in (False, True):
                for bs in (1, 64):
                    P, R, F = bert_score.score(cands, refs, model_type=tmp, num_layers=layer, idf=use_idf,
                                               batch_size=bs, device="cpu", nthreads=0)
                    out.append({"layer": layer, "idf": use_idf, "batch_size": bs, "P": P.tolist(),
                                "R": R.tolist(), "F": F.tolist()})
                    mine = next(r for r in entry["results"] if r["layer"] == layer and r["idf"] == use_idf)
                    d = max(max(abs(a - b) for a, b in zip(mine[key], vals.tolist()))
                            for key, vals in (("P", P), ("R", R), ("F", F)))
                    say("bert_score", layer, use_idf, bs, "max |ours - bert_score|", d)
        entry["bert_score_package"] = {"version": getattr(bert_score, "__version__", "?"), "results": out}
    except Exception:  # noqa: BLE001
        import traceback

        entry["bert_score_package_error"] = traceback.format_exc()
        say("bert_score run failed:", traceback.format_exc())


def load_onnx_weights(path: str, kind: str) -> dict:
    import onnx
    import torch
    from onnx import numpy_helper

    m = onnx.load(path)
    prefix = "roberta." if kind == "roberta" else ""
    out = {}
    for t in m.graph.initializer:
        if not t.name.startswith(prefix + "embeddings") and not t.name.startswith(prefix + "encoder"):
            continue
        arr = numpy_helper.to_array(t)
        name = t.name[len(prefix):]
        if name.endswith(".weight.T"):
            name = name[: -len(".T")]
            arr = arr.T
        out[name] = torch.from_numpy(np.ascontiguousarray(arr))
    return out


def sent_encode(tok, sent: str, kind: str) -> list[int]:
    """bert_score's sent_encode: strip; empty -> [CLS, SEP]; RoBERTa gets a prefix space
    (bert_score passes add_prefix_space=True to its slow RobertaTokenizer, which prepends
    one space); truncation at model_max_length keeping the special tokens."""
    sent = sent.strip()
    if sent == "":
        try:
            return list(tok.build_inputs_with_special_tokens([]))
        except Exception:  # noqa: BLE001
            return [tok.cls_token_id, tok.sep_token_id]
    text = " " + sent if kind == "roberta" else sent
    return list(tok.encode(text, add_special_tokens=True, max_length=tok.model_max_length,
                           truncation=True))


def check_onnx(folder, kind, model, tok, say, entry) -> None:
    """ONNX Runtime vs PyTorch on every hidden state: the graph's LayerNorm outputs are
    added as graph outputs (their names are fixed by build_onnx)."""
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import helper

    sp = "/roberta" if kind == "roberta" else ""
    names = [f"{sp}/embeddings/LayerNorm/Add_1_output_0"] + [
        f"{sp}/encoder/layer.{i}/output/LayerNorm/Add_1_output_0" for i in range(LAYERS)]
    if kind == "bert":
        names[-1] = "last_hidden_state"
    m = onnx.load(os.path.join(folder, "onnx", "model.onnx"))
    known = {o.name for o in m.graph.output}
    for n in names:
        if n not in known:
            m.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    sents = ["Chest X-ray shows a right lower lobe consolidation.", "Renal cyst.", ""]
    enc = [sent_encode(tok, s, kind) for s in sents]
    n = max(len(e) for e in enc)
    ids = np.array([e + [tok.pad_token_id] * (n - len(e)) for e in enc], dtype=np.int64)
    mask = np.array([[1] * len(e) + [0] * (n - len(e)) for e in enc], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask}
    if kind == "bert":
        feeds["token_type_ids"] = np.zeros_like(ids)
    outs = sess.run(names, feeds)
    with torch.no_grad():
        hs = model(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                   output_hidden_states=True).hidden_states
    diffs = []
    for layer, out in enumerate(outs):
        d = 0.0
        for i, e in enumerate(enc):
            d = max(d, float(np.abs(out[i, : len(e)] - hs[layer][i, : len(e)].numpy()).max()))
        diffs.append(d)
    entry["onnx_vs_torch_max_abs_diff"] = diffs
    say(kind, "ONNX vs torch hidden states, max |diff| per layer:", diffs)


def score_reference(model, tok, kind, folder, pairs, entry, say) -> None:
    import torch

    cls_id, sep_id, pad_id = tok.cls_token_id, tok.sep_token_id, tok.pad_token_id
    entry["special_ids"] = {"cls": cls_id, "sep": sep_id, "pad": pad_id}
    entry["model_max_length"] = tok.model_max_length

    # Cross-check the tokenization with the tokenizers library directly.
    try:
        from tokenizers import Tokenizer

        raw = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        raw.enable_truncation(max_length=tok.model_max_length)
        bad = []
        for p in pairs:
            for s in [p["candidate"]] + p["references"]:
                st = s.strip()
                if not st:
                    continue
                a = sent_encode(tok, s, kind)
                b = raw.encode(" " + st if kind == "roberta" else st).ids
                if a != b:
                    bad.append({"sentence": s, "transformers": a, "tokenizers": b})
        entry["tokenization_mismatches"] = bad
        say(kind, "tokenizer cross-check mismatches:", len(bad))
    except Exception as e:  # noqa: BLE001
        say(kind, "tokenizer cross-check skipped:", e)

    sentences = []
    for p in pairs:
        sentences.append(p["candidate"])
        sentences.extend(p["references"])
    uniq = sorted(set(sentences), key=lambda x: len(x.split(" ")), reverse=True)
    ids = {s: sent_encode(tok, s, kind) for s in uniq}
    entry["token_ids"] = {s: ids[s] for s in uniq}

    # Embeddings of every hidden layer, batched with padding and attention mask (batch 8).
    hidden: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for start in range(0, len(uniq), 8):
            batch = uniq[start : start + 8]
            n = max(len(ids[s]) for s in batch)
            x = torch.full((len(batch), n), pad_id, dtype=torch.long)
            m = torch.zeros((len(batch), n), dtype=torch.long)
            for i, s in enumerate(batch):
                x[i, : len(ids[s])] = torch.tensor(ids[s])
                m[i, : len(ids[s])] = 1
            hs = model(x, attention_mask=m, output_hidden_states=True).hidden_states
            for i, s in enumerate(batch):
                hidden[s] = [h[i, : len(ids[s])].clone() for h in hs]

    refs_flat = [r for p in pairs for r in p["references"]]
    results = []
    for layer in range(0, LAYERS + 1):
        for use_idf in (False, True):
            idf = idf_weights(refs_flat, ids, cls_id, sep_id, use_idf)
            P, R, F = [], [], []
            raw_pairs = []
            for p in pairs:
                best = None
                per_ref = []
                for r in p["references"]:
                    pr = greedy(hidden[p["candidate"]][layer], ids[p["candidate"]],
                                hidden[r][layer], ids[r], idf)
                    per_ref.append(pr)
                    best = pr if best is None else [max(a, b) for a, b in zip(best, pr)]
                P.append(best[0])
                R.append(best[1])
                F.append(best[2])
                raw_pairs.append(per_ref)
            results.append({"layer": layer, "idf": use_idf, "P": P, "R": R, "F": F,
                            "per_reference": raw_pairs,
                            "idf_weights": {str(k): v for k, v in sorted(idf["table"].items())}
                            if use_idf else None,
                            "idf_default": idf["default"] if use_idf else None})
            say(kind, f"layer {layer} idf {use_idf}: mean P {np.mean(P):.6f} R {np.mean(R):.6f} F {np.mean(F):.6f}")
    entry["results"] = results


def idf_weights(refs, ids, cls_id, sep_id, use_idf):
    if not use_idf:
        return {"table": {cls_id: 0.0, sep_id: 0.0}, "default": 1.0}
    count: Counter = Counter()
    for r in refs:
        count.update(set(ids[r]))
    n = len(refs)
    table = {t: math.log((n + 1) / (c + 1)) for t, c in count.items()}
    return {"table": table, "default": math.log((n + 1) / 1)}


def greedy(hyp, hyp_ids, ref, ref_ids, idf):
    """bert_score's greedy_cos_idf for one pair (float32 torch, as bert_score)."""
    import torch

    hyp = hyp / torch.norm(hyp, dim=-1, keepdim=True)
    ref = ref / torch.norm(ref, dim=-1, keepdim=True)
    sim = hyp @ ref.T
    wp = sim.max(dim=1)[0]
    wr = sim.max(dim=0)[0]
    hi = torch.tensor([idf["table"].get(t, idf["default"]) for t in hyp_ids], dtype=torch.float32)
    ri = torch.tensor([idf["table"].get(t, idf["default"]) for t in ref_ids], dtype=torch.float32)
    hi = hi / hi.sum()
    ri = ri / ri.sum()
    P = float((wp * hi).sum())
    R = float((wr * ri).sum())
    F = 2 * P * R / (P + R) if (P + R) != 0 else float("nan")
    if len(hyp_ids) == 2 or len(ref_ids) == 2:  # empty candidate / reference
        P, R = 0.0, 0.0
    if math.isnan(F):
        F = 0.0
    if math.isnan(P):
        P = 0.0
    if math.isnan(R):
        R = 0.0
    return [P, R, F]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build")
    r = sub.add_parser("reference")
    r.add_argument("--out", required=True)
    r.add_argument("--bert-score", action="store_true",
                   help="also run the bert_score package (importable) on the same models, as a cross-check")
    a = ap.parse_args()
    if a.cmd == "build":
        build()
    else:
        reference(a.out, a.bert_score)


if __name__ == "__main__":
    sys.exit(main())
