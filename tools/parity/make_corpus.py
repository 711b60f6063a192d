#!/usr/bin/env python3
"""Builds medcap's parity corpus (deterministic, no dependencies).

Writes into test/fixtures/parity/:
  corpus.jsonl            caption items {"id", "candidate", "references": [...]} for the
                          metric parity tests (radiology-style captions, several references,
                          punctuation, brackets, abbreviations, numbers, units, unicode,
                          empty and whitespace-only captions)
  tokenizer-strings.txt   one string a line for the tokenizer parity test (the corpus
                          captions plus many generated tricky strings)

Usage: python3 tools/parity/make_corpus.py [--items 800] [--strings 20000]
"""
import argparse
import json
import os
import random

MODALITIES = ["CT", "MRI", "Axial CT", "Coronal T2-weighted MRI", "Sagittal T1-weighted MR image",
              "Chest X-ray", "Chest radiograph", "PET/CT", "Ultrasound", "Doppler ultrasound",
              "Contrast-enhanced CT", "Non-contrast CT", "FLAIR image", "DWI", "CT angiography",
              "Mammogram", "Fluoroscopy", "Angiogram", "Bone scan", "HRCT", "18F-FDG PET",
              "T2W MR", "ADC map", "Plain film", "Cone-beam CT"]
VERBS = ["shows", "showing", "demonstrates", "reveals", "depicts", "with", "displays", "confirms",
         "indicates", "suggests", "highlights", "of the patient showing"]
FINDINGS = ["a mass", "a well-defined lesion", "an ill-defined opacity", "a hypodense lesion",
            "a hyperintense lesion", "pleural effusion", "consolidation", "a fracture",
            "bilateral infiltrates", "a cystic lesion", "ground-glass opacities", "an aneurysm",
            "a calcified nodule", "free fluid", "lymphadenopathy", "a pneumothorax",
            "thickening of the wall", "an abscess", "a filling defect", "stenosis",
            "the tumour", "the tumor", "multiple metastases", "a hematoma", "edema",
            "an enhancing lesion", "cardiomegaly", "a displaced fracture", "bowel obstruction",
            "a thrombus", "no abnormality", "diffuse uptake", "a stone", "hydronephrosis"]
PLACES = ["in the right lower lobe", "in the left kidney", "of the liver", "in segment VII",
          "in the pancreatic head", "of the spleen", "at the L4-L5 level", "in the frontal lobe",
          "adjacent to the aorta", "within the bladder", "in the left breast", "of the femur",
          "in the right upper quadrant", "at C5-C6", "in the posterior fossa", "of the tibia",
          "in the mediastinum", "near the hilum", "in the sella turcica", "of the thyroid gland",
          "at the gastro-oesophageal junction", "in the 2nd intercostal space"]
SIZES = ["3.5 cm", "5mm", "12 x 8 mm", "2.3x1.8 cm", "10 mm", "4 cm", "1.2 cm", "0.5cm",
         "7 × 5 cm", "15mm", "3,5 cm", "25 HU", "120/80", "1 1/2 cm", "½ cm", "2-3 mm",
         "12–15 mm", "30°", "5 µm", "10 μm", "3 cm²", "40 mL", "1:2", "10:30", "5 mg/kg",
         "SUVmax 12.4", "T = 37.5 °C", "95%", "100 %", "±2 mm", "~3 cm", ">5 cm", "<1 cm",
         "3 cm3", "3cc", "1e-3", "2,000 cells", "1.5T", "3 T", "64-slice"]
EXTRAS = ["(arrow)", "(arrows)", "[arrow]", "{asterisk}", "(white arrow)", "(*)", "(Fig. 2)",
          "(see Fig. 3a)", "(A)", "(B, C)", "(a-c)", "(arrowheads).", "e.g. after surgery",
          "i.e. benign", "vs. baseline", "cf. prior study", "et al.", "etc.", "approx. 3 cm",
          "ca. 4 cm", "No. 5", "Dr. Smith's patient", "at St. Mary's", "in Jan. 2019",
          "on Feb. 3", "U.S. hospital", "Ct. scan", "Pt. with pain", "Fig. 1", "Figs. 2-4",
          "pp. 12-14", "Inc. device", "Co. Ltd.", "the patient's", "patients' images",
          "it's", "don't", "can't", "won't", "isn't", "wasn't", "I'm", "we've", "they'll",
          "he'd", "cannot", "gonna", "'twas", "o'clock", "rock 'n' roll", "'90s", "y'all",
          "“curly quotes”", "‘single quotes’", "\"straight quotes\"", "'single'", "«guillemets»",
          "„low quotes“", "‚low single‘", "``latex''", "!!!", "?!", "...", "…", ". . .",
          "--", "—", "–", "-", "---", "----", "/", "\\", "*", "**", "***", "#", "##", "@",
          "&", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&nbsp;", "&eacute;", "<b>",
          "</i>", "<br/>", "<br />", "<p class=\"x\">", "<!-- c -->", "<<", ">>", "=", "+",
          "%", "^", "|", "~", "$", "$5", "US$", "€", "£", "¢", "¥", "§", "©", "®", "™", "°",
          "±", "×", "÷", "→", "←", "↑", "≥", "≤", "≈", "∼", "∆", "µ", "²", "³", "¹", "⁰",
          "₂", "H₂O", "CO2", "x²", "¼", "¾", "⅓", "⅛", "1/2", "1\\/2", "3/4", "10/20/2019",
          "12-05-19", "2019-01-02", "555-1234", "(555) 123-4567", "+1 555 123 4567",
          "555.123.4567", "http://example.com/a?b=c", "https://www.ncbi.nlm.nih.gov/pmc/",
          "www.radiopaedia.org", "example.com", "Google.com", "user@example.org",
          "<user@example.org>", "@handle", "#hashtag", "c++", "C#", "f#", "AT&T", "S&P-500",
          "R&D", "-LRB-", "-RRB-", "file.png", "image.JPG", "report.pdf", "a.k.a.", "Ph.D.",
          "Ed.D", "Mr. Jones", "Mrs. Smith", "Prof. Lee", "Gen. Hosp.", "Mt. Sinai",
          "Ft. Worth", "vs", "No.", "no. 3", "fig. 2", "Fig.2", "fig.", "art. 5", "op. cit.",
          "est. 5", "ext. 1234", "sq. cm", "tel. 123", ":)", ":-(", ";)", "=D", ":P", "^_^",
          "o_O", "(-_-)", "(^.^)", "x.x", "T1", "T2*", "T2-FLAIR", "L4-L5", "C-spine",
          "anti-inflammatory", "pro-BNP", "non-U.S", "U.S.-U.K", "d'Amico", "O'Brien",
          "l'hôpital", "Ménière's", "Sjögren's", "Crohn's", "Graves'", "Wilms' tumour",
          "naïve", "café", "Straße", "αβγ", "β-HCG", "Δ", "Ω", "μ", "Ж", "Привет", "中文",
          "日本語", "한국어", "العربية", "עברית", "हिन्दी", "ไทย", "😀", "🫁", "🧠", "©2019",
          "\u00ad", "co\u00adop", "\u200b", "zero\u200bwidth", "\ufeff", "\u00a0", "\t",
          "a\u0085b", "\u0096", "\u0093quoted\u0094", "\u0091x\u0092", "\u007f",
          "\u2009thin", "\u3000ideo", "x\u0300", "é", "e\u0301", "İstanbul", "ΣΑΣ", "ǅ",
          "Ⅻ", "①", "⑴", "٣", "١٢٣", "߁", "１２３", "ＡＢＣ", "％", "（", "）", "，", "。",
          "、", "¡Hola!", "¿Qué?", "Nov.", "Dec. 25", "Mon. 5", "Calif.", "Mass. General",
          "Ala.", "Wash. U", "Inc.", "Corp.", "Ltd.", "Jr.", "Sr.", "Bros.", "Blvd.", "Rd.",
          "Esq.", "al.", "seq.", "Bldg.", "Tues.", "Thurs.", "Sept.", "Ariz.", "Ky.", "Pa.",
          "Md.", "I.", "A.", "J.F.K.", "U.S.A.", "e.g.", "i.e.", "E.g.", "I.e.", "vs.", "Vs.",
          "approx.", "max.", "min.", "resp.", "diam.", "ant.", "post.", "lat.", "med.",
          "St.", "Dept.", "Mfg.", "Natl.", "Cie.", "Wm.", "Alex.", "cf.", "a.m.", "p.m.",
          "10 a.m.", "5 p.m. The", "U.S. The", "Inc. The", "etc. The", "Ct. The", "Jan. The",
          "Mr. The", "I. The", "A. This", "B. In", "e.g. The", "vs. The", "No. The",
          "Fig. The", "Ca. 5", "ca.5", "fig.5", "Nos. 3", "pty. ltd", "co. ltd", "Co. Ltd",
          "Pty. Limited", "3.", "3.5.", "v1.2", "1.2.3", "10.5%", "-5", "+5", "−5", "5-",
          "5.", ".5", "0.5.", "1,000,000", "1.000,5", "12:30:45", "2:1", "1:1000", "3x",
          "3-fold", "2-year-old", "60-year-old man", "45 y/o", "M/F", "and/or", "w/o", "s/p",
          "+/-", "-/-", "AP/PA", "PA/lateral", "T1/T2", "A/B/C", "he/she", "abc/def/ghi/jkl",
          "x-ray", "X-Ray", "X-rays", "re-", "-ing", "_", "__", "a_b", "snake_case", "12_3",
          "don'ts", "ain't", "shan't", "y'know", "ma'am", "ne'er", "'em", "'til", "'till",
          "'cause", "cont'd", "nor'easter", "c'mon", "e'er", "s'mores", "ev'ry", "li'l",
          "nat'l", "O'o", "Cap'n", "c'est", "'12", "'99 ", "it’s", "don’t", "patient’s",
          "l’artère", "d’Alembert", "rock’n’roll", "’s", "n’t", "n`t", "can`t", "it`s",
          "\"Quoted\" text", "\"", "\"\"", "''", "'", "`", "``", "'''", "a'b", "'a b'",
          "'A", "'hello", "x' y", "(1)", "(i)", "[1]", "[12-14]", "{1}", "((nested))", "[(x)]",
          "<5", ">10", "<>", "< 5", "5>3", "a<b", "a>b", "->", "<-", "<->", "=>", "==", "!=",
          ">=", "<=", "~~", "^^", "||", "&&", "%%", "@@", "##", "**", "***", "****", "*****",
          "\\*", "\\*\\*", "C.D.s", "pro-", "anti-", "S&Ls", "-RCB-", "-LSB-", "'30s",
          "the 1990s", "1990's", "mid-1990s", "T-cell", "B-cell", "IL-6", "HER2+", "ER+/PR-",
          "CD4+", "p53", "Ki-67", "BRCA1/2", "COVID-19", "SARS-CoV-2", "H1N1", "HIV+",
          "Gd-DTPA", "99mTc-MDP", "I-131", "18F", "FDG-avid", "PI-RADS 4", "BI-RADS 5",
          "LI-RADS", "TI-RADS", "Bosniak IIF", "Gleason 3+4=7", "Grade II/III", "WHO grade 4",
          "stage IV", "T2N1M0", "pT3a", "AJCC 8th ed.", "ed.", "Vol. 3", "vol. 2", "p. 5",
          "P. 5", "pg. 3", "ch. 2", "sec. 4", "para. 2", "ref. 3", "refs. 4-6"]
JOINERS = [" ", " ", " ", " ", "  ", ", ", "; ", ": ", " - ", " – ", " (", ") ", " / ", "/",
           "-", ". ", "! ", "? ", "\t", " \u00a0", "\u00a0"]
ENDS = [".", "", ".", "", "!", "?", "...", " .", ". ", "..", ".)", ").", ".\"", "\".", ".”",
        "”.", ":", ";", ",", " ", "  ", "!!", "?!", "-", "—", "…", " etc.", " et al.",
        " Ct.", " vs.", " e.g.", " U.S.", " Inc.", " Jan.", " No.", " Fig.", " Dr.", " al."]


def caption(rng):
    parts = [rng.choice(MODALITIES), rng.choice(VERBS), rng.choice(FINDINGS)]
    if rng.random() < 0.7:
        parts.append(rng.choice(PLACES))
    if rng.random() < 0.6:
        parts.append(("measuring " if rng.random() < 0.5 else "") + rng.choice(SIZES))
    for _ in range(rng.randint(0, 3)):
        parts.insert(rng.randint(1, len(parts)), rng.choice(EXTRAS))
    text = parts[0]
    for p in parts[1:]:
        text += rng.choice(JOINERS) + p
    if rng.random() < 0.2:
        text = text.lower()
    elif rng.random() < 0.05:
        text = text.upper()
    return text + rng.choice(ENDS)


def variant(rng, text):
    """A reference-like rewording of a caption: drop, swap or replace some words."""
    words = text.split(" ")
    out = []
    for w in words:
        x = rng.random()
        if x < 0.08:
            continue
        if x < 0.14:
            out.append(rng.choice(FINDINGS + PLACES + SIZES + EXTRAS))
        else:
            out.append(w)
        if rng.random() < 0.05:
            out.append(rng.choice(EXTRAS))
    if len(out) > 3 and rng.random() < 0.3:
        i = rng.randint(0, len(out) - 2)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


SOUP = list("abcxyzABCXYZ0123456789 .,;:!?'\"`-_/\\()[]{}<>@#$%^&*+=|~") + [
    "\u2019", "\u2018", "\u201c", "\u201d", "\u2013", "\u2014", "\u2026", "\u00a0", "\u00ad",
    "é", "ß", "µ", "°", "±", "×", "²", "½", "€", "£", "α", "Ж", "中", "😀", "&amp;", "&lt;",
    "n't", "'s", "'re", "'ll", "'d", "'m", "'ve", "e.g.", "U.S.", "Inc.", "vs.", "Ct.",
    "Jan.", "Dr.", "Fig.", "No.", "ca.", "www.", ".com", "http://", "@", ".png", "...", "--",
    " The", " He", " A", " I", " It", " This", " ", " ", " ", "  "]


# Newline-like characters make the Java tokenizer start a new line, which shifts every
# later caption in pycocoevalcap; the corpus leaves them out (medcap treats them as spaces).
NEWLINES = "\n\r\u000b\u000c\u2028\u2029"


def clean(text):
    return "".join(" " if c in NEWLINES else c for c in text)


def soup(rng):
    return "".join(rng.choice(SOUP) for _ in range(rng.randint(1, 18))).replace("\n", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=800)
    ap.add_argument("--strings", type=int, default=20000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "test", "fixtures", "parity"))
    args = ap.parse_args()
    rng = random.Random(20240611)
    os.makedirs(args.out, exist_ok=True)
    items = []
    for i in range(args.items):
        n_refs = rng.choice([1, 1, 1, 2, 2, 3, 5])
        base = caption(rng)
        refs = [base] + [variant(rng, base) if rng.random() < 0.7 else caption(rng)
                         for _ in range(n_refs - 1)]
        x = rng.random()
        if x < 0.03:
            cand = ""
        elif x < 0.05:
            cand = rng.choice([" ", "   ", "\t", " \u00a0 "])
        elif x < 0.08:
            cand = rng.choice(["...", "!!!", "(", "-", ".", "--", "' '", "“”"])
        elif x < 0.45:
            cand = variant(rng, rng.choice(refs))
        elif x < 0.6:
            cand = rng.choice(refs)
        else:
            cand = caption(rng)
        if rng.random() < 0.02:
            refs[rng.randrange(len(refs))] = rng.choice(["", " ", "."])
        items.append({"id": "img_%05d" % i, "candidate": clean(cand),
                      "references": [clean(r) for r in refs]})
    with open(os.path.join(args.out, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")

    strings = []
    for item in items:
        strings.append(item["candidate"])
        strings.extend(item["references"])
    for extra in EXTRAS:
        strings.append(extra)
        strings.append("Axial CT " + extra + " The lesion")
        strings.append(extra + " the lesion " + extra)
    while len(strings) < args.strings:
        x = rng.random()
        if x < 0.45:
            strings.append(caption(rng))
        elif x < 0.7:
            strings.append(" ".join(rng.choice(EXTRAS) for _ in range(rng.randint(1, 6))))
        else:
            strings.append(soup(rng))
    strings = [clean(s) for s in strings]
    with open(os.path.join(args.out, "tokenizer-strings.txt"), "w", encoding="utf-8") as f:
        for s in strings:
            f.write(s + "\n")
    print("items:", len(items), "strings:", len(strings))


if __name__ == "__main__":
    main()
