"""Move a pre-trained encoder onto another tokenizer's vocabulary (an embedding transplant).

The packaged MiniLM knows one English WordPiece vocabulary: Cyrillic, Arabic and CJK text falls apart
into single characters, and distillation alone did not recover from that (docs/multilingual.md: 40-76 %
error on those scripts against 8-14 % for Romance languages). Here the student keeps its transformer
layers but gets the multilingual XLM-R SentencePiece vocabulary. Each new piece starts as the mean of the
old input embeddings of the pieces the old tokenizer cuts its surface form into, so English text starts
close to the old model and a new piece is at least the sum of its characters.

The 250k XLM-R pieces are trimmed to those the training corpus uses plus every single-character piece:
any text still tokenizes (at worst into characters), and the embedding table (and Adam's state) is a few
times smaller than the full one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from training.multilingual.transformer_student import plain_tokenizer

WORD_START = "\u2581"  # SentencePiece's word-boundary marker
# The new vocabulary's special tokens and, in order of preference, their counterparts in the old one.
SPECIAL_ROLES = {
    "<s>": ("[CLS]", "<s>"),
    "</s>": ("[SEP]", "</s>"),
    "<pad>": ("[PAD]", "<pad>"),
    "<unk>": ("[UNK]", "<unk>"),
    "<mask>": ("[MASK]", "<mask>"),
}


def used_pieces(tok: Tokenizer, texts: Iterable[str]) -> set[int]:
    """Ids the tokenizer emits on `texts` (the post-processor's special tokens included)."""
    used: set[int] = set()
    for encoding in tok.encode_batch(list(texts)):
        used.update(encoding.ids)
    return used


def trim_unigram(spec: dict[str, Any], keep: set[int]) -> tuple[dict[str, Any], list[int]]:
    """A Unigram tokenizer spec restricted to `keep`, specials and single characters; returns the new spec
    and, for each new id, the old one. Added tokens and the post-processor are renumbered to match."""
    model = spec["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"only Unigram (SentencePiece) vocabularies can be trimmed, not {model.get('type')}")
    vocab: list[list[Any]] = model["vocab"]
    specials = {int(t["id"]) for t in spec.get("added_tokens", [])}
    chars = {i for i, (piece, _) in enumerate(vocab) if len(piece.removeprefix(WORD_START)) <= 1}
    old_ids = sorted(i for i in keep | specials | chars | {int(model["unk_id"])} if i < len(vocab))
    old_ids += sorted(i for i in specials if i >= len(vocab))  # e.g. XLM-R's <mask>, outside the model vocab
    new_of = {old: new for new, old in enumerate(old_ids)}
    out = json.loads(json.dumps(spec))
    out["model"]["vocab"] = [vocab[i] for i in old_ids if i < len(vocab)]
    out["model"]["unk_id"] = new_of[int(model["unk_id"])]
    for token in out.get("added_tokens", []):
        token["id"] = new_of[int(token["id"])]
    for entry in (out.get("post_processor") or {}).get("special_tokens", {}).values():
        entry["ids"] = [new_of[int(i)] for i in entry["ids"]]
    return out, old_ids


def _old_ids(old: Tokenizer, piece: str) -> list[int]:
    """Old-vocabulary ids for a new piece's surface form (continuation pieces map to '##' forms)."""
    for name in SPECIAL_ROLES.get(piece, ()):
        if (special := old.token_to_id(name)) is not None:
            return [special]
    word_start = piece.startswith(WORD_START)
    surface = piece.removeprefix(WORD_START)
    if not surface:
        return []
    encoding = old.encode(surface, add_special_tokens=False)
    ids, tokens = list(encoding.ids), list(encoding.tokens)
    if not word_start and tokens and not tokens[0].startswith("##"):
        continuation = old.token_to_id("##" + tokens[0])
        if continuation is not None:
            ids[0] = continuation
    unk = old.token_to_id("[UNK]")
    return [i for i in ids if i != unk]


def transplant_embeddings(old: Tokenizer, old_table: torch.Tensor, pieces: list[str]) -> torch.Tensor:
    """Initial input embeddings for `pieces`: the mean of their old pieces' rows (the table's mean when none)."""
    fallback = old_table.mean(dim=0)
    rows = []
    for piece in pieces:
        ids = _old_ids(old, piece)
        rows.append(old_table[ids].mean(dim=0) if ids else fallback)
    return torch.stack(rows)


def transplant(source: Path, tokenizer_json: Path, texts: Iterable[str], out: Path) -> Path:
    """Write a Hugging Face directory: `source`'s layers with the trimmed `tokenizer_json` vocabulary."""
    from transformers import AutoModel

    new_tok = plain_tokenizer(tokenizer_json)
    full = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    spec, old_ids = trim_unigram(full, used_pieces(new_tok, texts))
    model_vocab, added = full["model"]["vocab"], {int(t["id"]): t["content"] for t in full.get("added_tokens", [])}
    pieces = [added.get(i) or model_vocab[i][0] for i in old_ids]

    model = AutoModel.from_pretrained(str(source), local_files_only=True)
    old_tok = plain_tokenizer(source / "tokenizer.json")
    table = model.get_input_embeddings().weight.detach()
    new_table = transplant_embeddings(old_tok, table, pieces)
    model.resize_token_embeddings(len(pieces))
    model.get_input_embeddings().weight.data.copy_(new_table)
    # special-token ids in the config referred to the old vocabulary
    model.config.pad_token_id = pieces.index("<pad>") if "<pad>" in pieces else None
    model.config.bos_token_id = model.config.eos_token_id = None
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    # written last: its presence marks a complete transplant (`distill` reuses the directory on resume)
    (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return out
