"""Reference pre-tokenisation for tests/inference/test_pretokenizer: the expressions of
llama.cpp src/llama-vocab.cpp applied with Python's `regex` module (Debian python3-regex).
Reads a JSON list of strings on stdin, writes {"gpt2": [[pieces]...], "llama3": ..., "qwen2": ...,
"deepseek-v3": ...}. DeepSeek-V3's three expressions run in turn as llama.cpp's
unicode_regex_split does: each splits every piece into its matches and the text between."""
import json
import sys

import regex

CONTRACTIONS_I = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
PATTERNS = {
    "gpt2": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    "llama3": CONTRACTIONS_I + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+",
    "qwen2": CONTRACTIONS_I + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+",
}

DEEPSEEK_V3 = [
    r"\p{N}{1,3}",
    r"[一-龥぀-ゟ゠-ヿ]+",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
    r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
]


def split_in_turn(text, expressions):
    pieces = [text] if text else []
    for e in expressions:
        out = []
        for p in pieces:
            pos = 0
            for m in regex.finditer(e, p):
                if m.start() > pos:
                    out.append(p[pos:m.start()])
                if m.end() > m.start():
                    out.append(m.group())
                pos = m.end()
            if pos < len(p):
                out.append(p[pos:])
        pieces = out
    return pieces


texts = json.load(sys.stdin)
out = {name: [regex.findall(p, t) for t in texts] for name, p in PATTERNS.items()}
out["deepseek-v3"] = [split_in_turn(t, DEEPSEEK_V3) for t in texts]
json.dump(out, sys.stdout, ensure_ascii=False)
