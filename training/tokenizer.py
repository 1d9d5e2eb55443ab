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
