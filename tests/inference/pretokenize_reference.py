"""Reference pre-tokenisation for tests/inference/test_pretokenizer: the expressions of
llama.cpp src/llama-vocab.cpp applied with Python's `regex` module (Debian python3-regex).
Reads a JSON list of strings on stdin, writes {"gpt2": [[pieces]...], "llama3": ..., "qwen2": ...}."""
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

texts = json.load(sys.stdin)
out = {name: [regex.findall(p, t) for t in texts] for name, p in PATTERNS.items()}
json.dump(out, sys.stdout, ensure_ascii=False)
