"""SentencePiece tokenizer training (docs/MODEL.md section 3.3).

Unigram model, nmt_nfkc normalisation, ids unk 0 / bos 1 / eos 2 / pad 3. The serialized
ModelProto goes into the GGUF key `consilium.tokenizer.spm_model`; the engine loads it with
SentencePieceProcessor::LoadFromSerializedProto.
"""

from __future__ import annotations

import io
from typing import Iterable

import sentencepiece as spm


def train_spm(texts: Iterable[str], vocab_size: int, byte_fallback: bool = True,
              normalization: str = "nmt_nfkc", hard_limit: bool = True) -> bytes:
    """Trains on the given sentences and returns the serialized model (deterministic:
    one thread, no sentence sampling). "identity" normalisation drops the ~240 KB NFKC
    character map (used for the tiny golden model only). With hard_limit=False the vocabulary
    may come out smaller than asked when the corpus is small (the model reads the size)."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0 if not byte_fallback else 0.9995,
        byte_fallback=byte_fallback, unk_id=0, bos_id=1, eos_id=2, pad_id=3,
        normalization_rule_name=normalization, num_threads=1, input_sentence_size=0,
        shuffle_input_sentence=False, split_digits=True, hard_vocab_limit=hard_limit,
        minloglevel=2)
    return model.getvalue()


def load(model_bytes: bytes) -> spm.SentencePieceProcessor:
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(model_bytes)
    return sp


_FULL_WIDTH = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}


def _cjk(c: str) -> bool:
    o = ord(c)
    return (0x3000 <= o <= 0x303F or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF
            or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF)


def restore_cjk_punctuation(text: str) -> str:
    """NFKC folds Chinese full-width punctuation to ASCII ("有，乳腺癌。" decodes as
    "有,乳腺癌。"); put the full-width form back after a CJK character (for "(": before one).
    The engine's ConsiliumTokenizer::decode does the same (restoreCjkPunctuation)."""
    out = []
    prev = ""
    for i, c in enumerate(text):
        wide = _FULL_WIDTH.get(c)
        if wide:
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if (c == "(" and nxt and _cjk(nxt)) or (c != "(" and prev and _cjk(prev)):
                out.append(wide)
                prev = wide
                continue
        out.append(c)
        prev = c
    return "".join(out)
