"""Questions and reference answers (issue 8, "Questions" and "Answers").

Each question kind has English and Chinese phrasings, the modality that should dominate
the gate (for the modality-weight metric), and an answer function of (Case, language).
When resources/questions/questions.json (the audio issue's list, shared with the speech
grammar) exists, its English phrasings are added to the built-in ones by `kind`.
"""

from __future__ import annotations

import json
import os
from typing import Dict, List, Tuple

from training import records
from training.data import Case

_LOBE_EN = {"RUL": "right upper lobe", "RML": "right middle lobe", "RLL": "right lower lobe",
            "LUL": "left upper lobe", "LLL": "left lower lobe"}
_LOBE_ZH = {"RUL": "右上叶", "RML": "右中叶", "RLL": "右下叶", "LUL": "左上叶", "LLL": "左下叶"}
_TYPE_EN = {"solid": "solid", "part-solid": "part-solid", "ground-glass": "ground-glass"}
_TYPE_ZH = {"solid": "实性", "part-solid": "部分实性", "ground-glass": "磨玻璃"}
_NEXT_EN = {"1": "Continue annual screening with low-dose CT in 12 months.",
            "2": "Continue annual screening with low-dose CT in 12 months.",
            "3": "Low-dose CT in 6 months.",
            "4A": "Low-dose CT in 3 months; PET/CT may be considered.",
            "4B": "Chest CT, PET/CT and/or tissue sampling."}
_NEXT_ZH = {"1": "12个月后继续年度低剂量CT筛查。", "2": "12个月后继续年度低剂量CT筛查。",
            "3": "6个月后复查低剂量CT。", "4A": "3个月后复查低剂量CT，可考虑PET/CT。",
            "4B": "胸部CT、PET/CT和/或组织活检。"}

# kind -> (target modality, English phrasings, Chinese phrasings)
QUESTIONS: Dict[str, Tuple[str, List[str], List[str]]] = {
    "presence": ("image", ["Is there a lung nodule?", "Are there any nodules in the lungs?",
                           "Does the scan show a nodule?"], ["有肺结节吗？", "扫描中有结节吗？"]),
    "count": ("image", ["How many nodules are there?", "How many lung nodules can you see?"],
              ["有几个结节？", "一共有多少个肺结节？"]),
    "location": ("image", ["Where is the largest nodule?", "Which lobe is the biggest nodule in?"],
                 ["最大的结节在哪里？", "最大的结节位于哪个肺叶？"]),
    "size": ("image", ["How big is the largest nodule?", "What is the size of the largest nodule?"],
             ["最大的结节有多大？", "最大结节的大小是多少？"]),
    "type": ("image", ["What type is the largest nodule?", "Is the largest nodule solid?"],
             ["最大的结节是什么类型？"]),
    "lung_rads": ("image", ["What is the Lung-RADS category?", "Which Lung-RADS category applies?"],
                  ["Lung-RADS分类是什么？"]),
    "age": ("record", ["How old is the patient?", "What is the patient's age?"], ["患者多大年龄？"]),
    "sex": ("record", ["What is the sex of the patient?"], ["患者的性别是什么？"]),
    "smoking": ("record", ["Does the patient smoke?", "What is the smoking status?"], ["患者吸烟吗？"]),
    "pack_years": ("record", ["How many pack-years?", "What is the smoking history in pack-years?"],
                   ["吸烟史是多少包年？"]),
    "prior_cancer": ("record", ["Any prior cancer?", "Has the patient had cancer before?"],
                     ["患者有既往肿瘤史吗？"]),
    "family": ("record", ["Is there a family history of lung cancer?"], ["有肺癌家族史吗？"]),
    "eligible": ("record", ["Is the patient eligible for lung cancer screening?"],
                 ["患者符合肺癌筛查条件吗？"]),
    "next_step": ("both", ["What is the recommended next step?", "What should we do next?"],
                  ["下一步建议是什么？"]),
    "summary": ("both", ["Summarize the case.", "Give me a summary."], ["请总结这个病例。"]),
}


# Intent ids of resources/questions/questions.json -> question kinds here. Intents whose
# answer depends on a slot value or on data the phantom lacks (nodule_in_lobe,
# slice_content, finding_presence, nodule_growth) are not trained yet; neither are the
# slot templates of the mapped intents ("is it a {nodule_type} nodule").
INTENT_KIND = {"nodule_presence": "presence", "nodule_count": "count", "nodule_location": "location",
               "nodule_slice": "location", "nodule_size": "size", "nodule_type": "type",
               "lung_rads": "lung_rads", "patient_age": "age", "patient_sex": "sex",
               "smoking_status": "smoking", "pack_years": "pack_years", "years_since_quit": "smoking",
               "prior_cancer": "prior_cancer", "screening_eligibility": "eligible",
               "follow_up": "next_step", "summary": "summary"}


def expand_template(t: str, limit: int = 16) -> List[str]:
    """All sentences of a template: (a|b) one alternative, [a] optional (no slots)."""
    out = [""]
    i = 0
    while i < len(t):
        c = t[i]
        if c in "([":
            close = ")" if c == "(" else "]"
            j = t.index(close, i)
            alts = t[i + 1:j].split("|") + ([""] if c == "[" else [])
            out = [o + a for o in out for a in alts][:limit]
            i = j + 1
        else:
            out = [o + c for o in out]
            i += 1
    return [" ".join(o.split()) for o in out]


def load_shared(path: str = "resources/questions/questions.json") -> int:
    """Adds the phrasings of the audio issue's shared question list (the same file the
    speech grammar is generated from); returns how many were added. English templates
    are written lowercase without punctuation for the grammar; typed forms get a
    capital and a question mark, spoken forms are synthesized as written."""
    if not os.path.exists(path):
        return 0
    d = json.load(open(path, encoding="utf-8"))
    added = 0
    for it in d.get("intents", []):
        kind = INTENT_KIND.get(it.get("id"))
        if kind is None:
            continue
        for lang, idx in (("en", 1), ("zh", 2)):
            for tpl in it.get(lang, []):
                if "{" in tpl or (kind == "sex" and tpl.startswith("is the patient")):
                    continue  # slot values / yes-no forms need answers not trained yet
                for q in expand_template(tpl):
                    q = (q[0].upper() + q[1:] + "?") if lang == "en" else q + "？"
                    if q not in QUESTIONS[kind][idx]:
                        QUESTIONS[kind][idx].append(q)
                        added += 1
    return added


def _largest(case: Case):
    return max(case.nodules, key=lambda n: n.diameter_mm) if case.nodules else None


def answer(case: Case, kind: str, lang: str) -> str:
    """The reference answer text of a question kind for a case."""
    f, n, en = case.facts, _largest(case), lang == "en"
    k = len(case.nodules)
    if kind == "presence":
        if en:
            return f"Yes, {k} nodule{'s' if k > 1 else ''}." if k else "No nodules."
        return f"有，共{k}个结节。" if k else "没有结节。"
    if kind == "count":
        return (f"{k} nodule{'s' if k != 1 else ''}." if en else f"{k}个结节。")
    if n is None and kind in ("location", "size", "type"):
        return "No nodules." if en else "没有结节。"
    if kind == "location":
        sl = int(round(n.grid_zyx[0]))
        return (f"{_LOBE_EN[n.lobe].capitalize()}, slice {sl}." if en else f"{_LOBE_ZH[n.lobe]}，第{sl}层。")
    if kind == "size":
        return f"{n.diameter_mm:.0f} mm." if en else f"{n.diameter_mm:.0f}毫米。"
    if kind == "type":
        return (f"{_TYPE_EN[n.type].capitalize()}." if en else f"{_TYPE_ZH[n.type]}。")
    if kind == "lung_rads":
        return f"Lung-RADS {case.lung_rads}." if en else f"Lung-RADS {case.lung_rads}类。"
    if kind == "age":
        return f"{f.age} years." if en else f"{f.age}岁。"
    if kind == "sex":
        return ("Male." if f.sex == "male" else "Female.") if en else ("男性。" if f.sex == "male" else "女性。")
    if kind == "smoking":
        if en:
            return {"never": "Never smoker.", "current": "Current smoker.",
                    "former": f"Former smoker, quit {records.years_en(f.years_since_quit)} ago."}[f.smoking]
        return {"never": "从不吸烟。", "current": "目前吸烟。", "former": f"已戒烟{f.years_since_quit}年。"}[f.smoking]
    if kind == "pack_years":
        return f"{f.pack_years} pack-years." if en else f"{f.pack_years}包年。"
    if kind == "prior_cancer":
        if f.prior_cancer == "none":
            return "No prior cancer." if en else "无既往肿瘤史。"
        # Named as the record names it, in the question's language ("Yes, breast cancer." /
        # "有，乳腺癌。"), not the fact's key ("有，breast。", which the model had to translate).
        return (f"Yes, {records.cancer_en(f.prior_cancer)}." if en
                else f"有，{records.CANCER_ZH[f.prior_cancer]}。")
    if kind == "family":
        return ("Yes." if f.family_history else "No.") if en else ("有。" if f.family_history else "无。")
    if kind == "eligible":
        return ("Yes." if f.eligible() else "No.") if en else ("符合。" if f.eligible() else "不符合。")
    if kind == "next_step":
        if not f.eligible() and case.lung_rads in ("1", "2"):
            return "Not eligible for screening; routine care." if en else "不符合筛查条件，常规随访。"
        return _NEXT_EN[case.lung_rads] if en else _NEXT_ZH[case.lung_rads]
    if kind == "summary":
        if en:
            s = f"{f.age}-year-old {f.sex}, {f.smoking} smoker"
            s += f"; largest nodule {n.diameter_mm:.0f} mm {n.type} in the {_LOBE_EN[n.lobe]}" if n else "; no nodules"
            return s + f"; Lung-RADS {case.lung_rads}."
        s = f"{f.age}岁，" + ("无结节" if n is None else f"最大结节{n.diameter_mm:.0f}毫米，{_TYPE_ZH[n.type]}，位于{_LOBE_ZH[n.lobe]}")
        return s + f"；Lung-RADS {case.lung_rads}类。"
    raise ValueError(f"unknown question kind {kind}")


def all_texts() -> List[str]:
    out = []
    for _, en, zh in QUESTIONS.values():
        out += en + zh
    return out
