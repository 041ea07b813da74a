"""Tokenizer wrapper over Hugging Face `tokenizers` with an explicit long-input policy.

Silent truncation is a classic embedding-server bug: here every cut input is flagged, or refused.
Two tokenizer instances are kept (truncating and not) because toggling truncation on one shared
instance would race between threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from tokenizers import Tokenizer

from lexsent.errors import BundleError, InputTooLongError, InvalidInputError


class LongInputPolicy(StrEnum):
    TRUNCATE = "truncate"
    ERROR = "error"


@dataclass(frozen=True)
class Tokenized:
    """Token ids of one input, with whether it was cut to fit `max_length`."""

    ids: list[int]
    type_ids: list[int]
    truncated: bool

    def __len__(self) -> int:
        return len(self.ids)


def _load(path: Path) -> Tokenizer:
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed files
        raise BundleError(f"{path}: cannot load tokenizer ({exc})") from exc
    tok.no_padding()
    return tok


def pad_token_id(tok: Tokenizer) -> int | None:
    """The id of the padding token under any of the usual spellings (BERT, RoBERTa/XLM-R, others)."""
    return next((int(i) for t in ("[PAD]", "<pad>", "<PAD>") if (i := tok.token_to_id(t)) is not None), None)


Label = Callable[[int], str]
SINGLE_ENCODE_CHARS = 2048  # a lone input up to this size is encoded on the calling thread (see __call__)


def input_label(index: int) -> str:
    """How an error names the input at `index`: `input[i]`, as in an embeddings request. Callers whose
    texts come from other fields pass their own (`source[i]`, `points[i].text`, `query`)."""
    return f"input[{index}]"


class TextTokenizer:
    """Turns strings into :class:`Tokenized`, enforcing the long-input policy."""

    def __init__(self, path: Path, max_length: int, policy: LongInputPolicy = LongInputPolicy.TRUNCATE) -> None:
        self._tok = _load(path)
        self._tok.enable_truncation(max_length=max_length)
        self._full = _load(path)
        self._full.no_truncation()
        self.max_length = max_length
        self.policy = LongInputPolicy(policy)
        pad_id = pad_token_id(self._tok)
        self.pad_id = 0 if pad_id is None else pad_id
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)

    @staticmethod
    def validate(texts: Sequence[object], label: Label = input_label) -> list[str]:
        """Check the shape of a batch before any work is done on it."""
        if isinstance(texts, str):
            raise InvalidInputError("expected a list of strings, got a single string")
        items = list(texts)
        if not items:
            raise InvalidInputError("input is empty: send at least one string")
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise InvalidInputError(f"{label(i)} is {type(text).__name__}, expected a string")
            if not text.strip():
                raise InvalidInputError(f"{label(i)} is an empty string")
            if not text.isascii():  # a lone surrogate would reach the tokenizer and raise a bare TypeError
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise InvalidInputError(
                        f"{label(i)} is not valid Unicode (a lone surrogate at character {exc.start})"
                    ) from None
        return [str(t) for t in items]

    def __call__(
        self,
        texts: Sequence[object],
        policy: LongInputPolicy | None = None,
        *,
        first: int = 0,
        label: Label = input_label,
    ) -> list[Tokenized]:
        """`first`: the position of `texts[0]` in the caller's whole request; `label` names a position in
        error messages."""
        items = self.validate(texts, lambda i: label(first + i))
        policy = LongInputPolicy(policy) if policy else self.policy
        out: list[Tokenized] = []
        # One short input: `encode` stays on the calling thread. `encode_batch` hands even a single item to
        # the tokenizers' rayon pool, whose waking, spinning workers compete with onnxruntime for the cores.
        # But `encode` holds the GIL throughout (a 1 MB text: 2.4 s in which a server's event loop, in
        # another thread, stood still); `encode_batch` releases it, so long inputs take that path.
        if len(items) == 1 and len(items[0]) <= SINGLE_ENCODE_CHARS:
            encodings = [self._tok.encode(items[0], add_special_tokens=True)]
        else:
            encodings = self._tok.encode_batch(items, add_special_tokens=True)
        for i, enc in enumerate(encodings):
            truncated = bool(enc.overflowing)
            if truncated and policy is LongInputPolicy.ERROR:
                raise InputTooLongError(
                    f"{label(first + i)} has {self.count(items[i])} tokens but the model's max_length is "
                    f"{self.max_length}; shorten it or use the 'truncate' long-input policy"
                )
            out.append(Tokenized(ids=list(enc.ids), type_ids=list(enc.type_ids), truncated=truncated))
        return out

    def from_ids(self, batches: Sequence[Sequence[int]], policy: LongInputPolicy | None = None) -> list[Tokenized]:
        """Accept pre-tokenised input (OpenAI's token-id form), checked against the vocabulary."""
        policy = LongInputPolicy(policy) if policy else self.policy
        if not batches:
            raise InvalidInputError("input is empty: send at least one token-id list")
        out: list[Tokenized] = []
        for i, ids in enumerate(batches):
            if not ids:
                raise InvalidInputError(f"input[{i}] is an empty token-id list")
            for tid in ids:
                if isinstance(tid, bool) or not isinstance(tid, int) or not 0 <= tid < self.vocab_size:
                    raise InvalidInputError(
                        f"input[{i}] has token id {tid!r}; ids must be integers in [0, {self.vocab_size})"
                    )
            truncated = len(ids) > self.max_length
            if truncated and policy is LongInputPolicy.ERROR:
                raise InputTooLongError(
                    f"input[{i}] has {len(ids)} tokens but the model's max_length is {self.max_length}"
                )
            kept = list(ids[: self.max_length])
            out.append(Tokenized(ids=kept, type_ids=[0] * len(kept), truncated=truncated))
        return out

    def count(self, text: str) -> int:
        """Untruncated token count, special tokens included (`encode_batch`: the text is a long one, and
        it releases the GIL)."""
        return len(self._full.encode_batch([text], add_special_tokens=True)[0].ids)
