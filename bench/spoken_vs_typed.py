#!/usr/bin/env python3
"""Spoken against typed questions through the product (issue 8: "spoken and typed forms of a
question give the same structured answer >= 95 %").

Questions of the shared list are spoken by the held-out espeak-ng voices of
consilium-bench-asr (8 voices, strong accents included, 130-180 wpm, half with noise;
`--save-audio` keeps the audio and the sentence). Each is asked about a fresh synthetic
case twice with `consilium-cli ask --json`: typed (`--question SENTENCE`) and spoken
(`--audio FILE`, the transcript becomes the question and the audio the voice input). The
structured answer is the answer text, the findings and the Lung-RADS category.

    python3 bench/spoken_vs_typed.py --build build --cases 20 --questions 120 [--out FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def ask(cli, model, case, extra):
    cmd = [cli, "ask", "--study", os.path.join(case, "dicom"), "--record",
           os.path.join(case, "patient_record.txt"), "--json"] + extra
    if model:
        cmd += ["--model", model]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), ""


def structured(a):
    return {"answer": a.get("answer"), "lung_rads": a.get("lung_rads"),
            "findings": [(f.get("lobe"), f.get("type"), round(f.get("diameter_mm", 0), 1),
                          [round(v, 1) for v in f.get("center_mm", [])])
                         for f in a.get("findings", [])]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--model", help="default: the bundled model")
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--questions", type=int, default=120)
    ap.add_argument("--seed", type=int, default=4242, help="cases and questions")
    ap.add_argument("--out")
    a = ap.parse_args()
    cli = os.path.join(a.build, "bin", "consilium-cli")
    bench = os.path.join(a.build, "bin", "consilium-bench-asr")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([cli, "synth", "--out", os.path.join(tmp, "cases"), "--cases",
                        str(a.cases), "--seed", str(a.seed)], check=True, capture_output=True)
        audio = os.path.join(tmp, "audio")
        subprocess.run([bench, "--count", str(a.questions), "--seed", str(a.seed),
                        "--save-audio", audio, "--out", os.path.join(tmp, "asr.json")],
                       check=True, capture_output=True)
        rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(audio, "transcripts.tsv"))]
        same_answer = same_structured = understood = 0
        failures = []
        for i, (uid, text) in enumerate(rows):
            case = os.path.join(tmp, "cases", f"case_{i % a.cases:03d}")
            typed, err_t = ask(cli, a.model, case, ["--question", text])
            spoken, err_s = ask(cli, a.model, case, ["--audio", os.path.join(audio, uid + ".wav")])
            if typed is None:
                raise SystemExit(f"typed question failed: {text}: {err_t}")
            if spoken is None:
                failures.append({"said": text, "error": err_s})
                continue
            understood += 1
            sa = typed.get("answer") == spoken.get("answer")
            ss = structured(typed) == structured(spoken)
            same_answer += sa
            same_structured += ss
            if not ss:
                failures.append({"said": text, "heard": spoken.get("transcript"),
                                 "typed_answer": typed.get("answer"),
                                 "spoken_answer": spoken.get("answer"),
                                 "same_answer_text": sa})
        n = len(rows)
        report = {"bench": "spoken_vs_typed", "questions": n, "cases": a.cases,
                  "seed": a.seed, "understood": understood / n,
                  "same_answer_text": same_answer / n,
                  "same_structured_answer": same_structured / n,
                  "failures": failures}
        text = json.dumps(report, indent=1, ensure_ascii=False)
        if a.out:
            with open(a.out, "w") as f:
                f.write(text + "\n")
        print(json.dumps({k: v for k, v in report.items() if k != "failures"}))
        for f in failures[:20]:
            print(json.dumps(f, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
