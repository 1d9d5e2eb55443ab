"""Synthetic patient records in English and Simplified Chinese (issue 8, "Records").

A record states the screening-relevant facts (age, sex, smoking status, pack-years, years
since quitting, prior cancer, family history, symptoms) in one of several phrasings, mixed
with unrelated history, and can be padded with filler notes to any token length with the
facts at any depth (the needle test of the serving issue).

Everything is driven by a numpy Generator, so a seed reproduces a record exactly.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Dict, List, Optional, Tuple

import numpy as np

SMOKING = ("never", "current", "former")
PRIOR_CANCER = ("none", "breast", "colon", "prostate", "lymphoma")
SYMPTOMS = ("none", "cough", "hemoptysis", "weight loss", "dyspnea")

CANCER_ZH = {"none": "无", "breast": "乳腺癌", "colon": "结肠癌", "prostate": "前列腺癌",
             "lymphoma": "淋巴瘤"}
_SYMPTOM_ZH = {"none": "无明显症状", "cough": "咳嗽", "hemoptysis": "咯血", "weight loss": "体重下降",
               "dyspnea": "呼吸困难"}
_UNRELATED_EN = ("hypertension, controlled on amlodipine", "type 2 diabetes on metformin",
                 "right knee arthroscopy in {y}", "seasonal allergic rhinitis",
                 "hypothyroidism on levothyroxine", "appendectomy in {y}",
                 "gastro-oesophageal reflux", "hyperlipidaemia on atorvastatin",
                 "cataract surgery in {y}", "mild osteoarthritis of both hips")
_UNRELATED_ZH = ("高血压，服用氨氯地平控制良好", "2型糖尿病，服用二甲双胍", "{y}年右膝关节镜手术",
                 "季节性过敏性鼻炎", "甲状腺功能减退，服用左甲状腺素", "{y}年阑尾切除术",
                 "胃食管反流", "高脂血症，服用阿托伐他汀", "{y}年白内障手术", "双髋轻度骨关节炎")
_FILLER_EN = ("Routine follow-up visit; vital signs within normal limits.",
              "Blood pressure {a}/{b} mmHg, heart rate {c} per minute.",
              "Laboratory results: haemoglobin {d} g/dL, creatinine normal.",
              "Patient reports good adherence to medication.",
              "Influenza vaccination given this season.",
              "Dietary advice given; encouraged regular exercise.",
              "No known drug allergies documented.",
              "Reviewed by the nurse; no new complaints today.")
_FILLER_ZH = ("常规随访，生命体征正常。", "血压{a}/{b}毫米汞柱，心率每分钟{c}次。",
              "化验结果：血红蛋白{d}克每分升，肌酐正常。", "患者服药依从性良好。",
              "本季度已接种流感疫苗。", "已给予饮食建议，鼓励规律运动。", "无已知药物过敏史。",
              "护士随访，今日无新主诉。")


@dataclasses.dataclass
class Facts:
    age: int
    sex: str                 # "male" | "female"
    smoking: str             # SMOKING
    pack_years: int          # 0 for never smokers
    years_since_quit: int    # 0 unless former
    prior_cancer: str        # PRIOR_CANCER
    family_history: bool     # first-degree relative with lung cancer
    symptom: str             # SYMPTOMS

    def eligible(self) -> bool:
        """USPSTF 2021 / Lung-RADS screening eligibility used by the question list."""
        quit_ok = self.smoking == "current" or (self.smoking == "former" and self.years_since_quit <= 15)
        return 50 <= self.age <= 80 and self.pack_years >= 20 and quit_ok


def random_facts(rng: np.random.Generator) -> Facts:
    smoking = SMOKING[rng.integers(3)]
    pack = 0 if smoking == "never" else int(rng.integers(1, 81))
    quit = int(rng.integers(1, 31)) if smoking == "former" else 0
    sex = ("male", "female")[rng.integers(2)]
    cancers = [c for c in PRIOR_CANCER if not (sex == "female" and c == "prostate")]
    return Facts(age=int(rng.integers(35, 91)), sex=sex,
                 smoking=smoking, pack_years=pack, years_since_quit=quit,
                 prior_cancer=cancers[rng.integers(len(cancers))],
                 family_history=bool(rng.integers(2)),
                 symptom=SYMPTOMS[rng.integers(len(SYMPTOMS))])


def years_en(n: int) -> str:
    """"1 year", "2 years": English number agreement for durations in records and answers."""
    return f"{n} year" if n == 1 else f"{n} years"


def cancer_en(c: str) -> str:
    return c if c == "lymphoma" else f"{c} cancer"


def _pick(rng, options):
    return options[rng.integers(len(options))]


def fact_sentences(f: Facts, lang: str, rng: np.random.Generator) -> List[str]:
    """One sentence per fact, phrasing drawn at random."""
    if lang == "en":
        sex = f.sex
        s = [_pick(rng, (f"Patient is a {f.age}-year-old {sex}.", f"Age: {f.age} years. Sex: {sex}.",
                          f"{f.age} y/o {sex} referred for chest CT.",
                          f"The patient, a {sex} aged {f.age}, presents for review."))]
        if f.smoking == "never":
            s.append(_pick(rng, ("Never smoker.", "Smoking history: never smoked.",
                                 "Denies any tobacco use.")))
        elif f.smoking == "current":
            s.append(_pick(rng, (f"Current smoker, {f.pack_years} pack-years.",
                                 f"Smoking: current, {f.pack_years} pack-years.",
                                 f"Still smokes; history of {f.pack_years} pack-years.")))
        else:
            s.append(_pick(rng, (f"Former smoker, {f.pack_years} pack-years, quit {years_en(f.years_since_quit)} ago.",
                                 f"Ex-smoker ({f.pack_years} pack-years); stopped smoking {years_en(f.years_since_quit)} ago.",
                                 f"Smoking: former, {f.pack_years} pack-years, {years_en(f.years_since_quit)} since quitting.")))
        s.append("No prior cancer." if f.prior_cancer == "none" else
                 _pick(rng, (f"History of {cancer_en(f.prior_cancer)}.",
                             f"Prior malignancy: {cancer_en(f.prior_cancer)}.")))
        s.append(_pick(rng, ("Family history of lung cancer in a first-degree relative.",
                             "Father had lung cancer.")) if f.family_history else
                 _pick(rng, ("No family history of lung cancer.", "Family history negative for lung cancer.")))
        s.append("Asymptomatic." if f.symptom == "none" else
                 _pick(rng, (f"Presenting symptom: {f.symptom}.", f"Reports {f.symptom}.")))
        return s
    sex = "男" if f.sex == "male" else "女"
    s = [_pick(rng, (f"患者，{sex}，{f.age}岁。", f"年龄：{f.age}岁，性别：{sex}。", f"{f.age}岁{sex}性，因胸部CT就诊。"))]
    if f.smoking == "never":
        s.append(_pick(rng, ("从不吸烟。", "吸烟史：无。")))
    elif f.smoking == "current":
        s.append(_pick(rng, (f"目前吸烟，{f.pack_years}包年。", f"吸烟史：现吸烟者，{f.pack_years}包年。")))
    else:
        s.append(_pick(rng, (f"既往吸烟，{f.pack_years}包年，已戒烟{f.years_since_quit}年。",
                             f"戒烟{f.years_since_quit}年，吸烟量{f.pack_years}包年。")))
    s.append("无既往肿瘤史。" if f.prior_cancer == "none" else f"既往{CANCER_ZH[f.prior_cancer]}病史。")
    s.append("一级亲属有肺癌家族史。" if f.family_history else "无肺癌家族史。")
    s.append("无明显症状。" if f.symptom == "none" else f"主诉{_SYMPTOM_ZH[f.symptom]}。")
    return s


def filler(lang: str, rng: np.random.Generator) -> str:
    tpl = _pick(rng, _FILLER_EN if lang == "en" else _FILLER_ZH)
    return tpl.format(a=int(rng.integers(100, 160)), b=int(rng.integers(60, 100)),
                      c=int(rng.integers(55, 100)), d=round(float(rng.uniform(10, 16)), 1))


def unrelated(lang: str, rng: np.random.Generator) -> str:
    tpl = _pick(rng, _UNRELATED_EN if lang == "en" else _UNRELATED_ZH)
    item = tpl.format(y=int(rng.integers(1990, 2024)))
    return f"Other history: {item}." if lang == "en" else f"其他病史：{item}。"


def make_record(facts: Facts, lang: str, rng: np.random.Generator, n_filler: int = 0,
                depth: Optional[float] = None) -> str:
    """The record text: fact sentences (in random order) plus unrelated history, with
    n_filler filler sentences; the fact block starts at relative position `depth` (0..1)
    of the fillers (random when None)."""
    return make_record_with_evidence(facts, lang, rng, n_filler, depth)[0]


def make_record_with_evidence(facts: Facts, lang: str, rng: np.random.Generator, n_filler: int = 0,
                              depth: Optional[float] = None) -> Tuple[str, Dict[str, List[Tuple[int, int]]]]:
    """make_record (same text, same draws from rng) plus, per question kind, the character
    spans [begin, end) of the text that answers it: the digits of the age or the pack-years,
    the sex word, or the whole sentence (smoking, prior cancer, family history). Training
    points the fusion's record attention at them (train.pointer_loss)."""
    facts_s = fact_sentences(facts, lang, rng)
    order = rng.permutation(len(facts_s))
    block = [facts_s[i] for i in order] + [unrelated(lang, rng) for _ in range(int(rng.integers(0, 3)))]
    fill = [filler(lang, rng) for _ in range(n_filler)]
    at = int(round((rng.uniform() if depth is None else depth) * n_filler))
    sep = " " if lang == "en" else ""
    parts = fill[:at] + block + fill[at:]
    starts, pos = [], 0
    for p in parts:
        starts.append(pos)
        pos += len(p) + len(sep)
    # fact_sentences order: 0 age and sex, 1 smoking, 2 prior cancer, 3 family, 4 symptom.
    where = {int(i): starts[at + k] for k, i in enumerate(order)}

    def sentence(i):
        return [(where[i], where[i] + len(facts_s[i]))]

    def inside(i, needle):
        # A whole number or word: "2" must not match inside "12".
        hit = re.search(r"(?<![0-9A-Za-z])" + re.escape(needle) + r"(?![0-9A-Za-z])", facts_s[i])
        return [(where[i] + hit.start(), where[i] + hit.end())] if hit else sentence(i)

    sex = facts.sex if lang == "en" else ("男" if facts.sex == "male" else "女")
    ev = {"age": inside(0, str(facts.age)), "sex": inside(0, sex), "smoking": sentence(1),
          "pack_years": inside(1, str(facts.pack_years)) if facts.pack_years else sentence(1),
          "prior_cancer": sentence(2), "family": sentence(3)}
    ev["eligible"] = ev["age"] + sentence(1)
    return sep.join(parts), ev


def phantom_record_evidence(text: str) -> Dict[str, List[Tuple[int, int]]]:
    """Evidence spans (as make_record_with_evidence) in the record `consilium-cli synth`
    writes (imaging/phantom.cpp): "63-year-old man, former smoker who quit 4 years ago, with
    a 40 pack-year smoking history. ..." """
    ev = {}
    for kind, pattern in (("age", r"(\d+)-year-old"), ("sex", r"-year-old (man|woman)"),
                          ("smoking", r"(current smoker|former smoker who quit \d+ years? ago)"),
                          ("pack_years", r"(\d+) pack-year")):
        m = re.search(pattern, text)
        if m:
            ev[kind] = [(m.start(1), m.end(1))]
    if "age" in ev and "smoking" in ev:
        ev["eligible"] = ev["age"] + ev["smoking"] + ev.get("pack_years", [])
    return ev


def corpus(n: int, seed: int) -> List[str]:
    """Sentences for tokenizer training: records in both languages."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "zh"
        out.append(make_record(random_facts(rng), lang, rng, n_filler=int(rng.integers(0, 4))))
    return out
