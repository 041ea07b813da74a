"""`Encoder`: text → token ids → ONNX session → pooled float32 vectors, without torch.

Pooling and normalisation live inside the exported graph; this module only batches, pads and runs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from lexsent.batching import plan_batches
from lexsent.bundle import Bundle
from lexsent.errors import BundleError, InvalidInputError
from lexsent.manifest import MANIFEST_FILE, Manifest
from lexsent.packing import MAX_ROW_TOKENS, PACKED_INPUTS, is_packed, pack_rows, plan_runs
from lexsent.padding import pad_batch
from lexsent.tokenizer import Label, LongInputPolicy, TextTokenizer, Tokenized, input_label

Vectors = npt.NDArray[np.float32]

# Padded tokens per onnxruntime call when the caller sets none. On CPU, small length-sorted runs are
# fastest: all-MiniLM-L6-v2 on short inputs in random order ran 1.3-2x faster at 256 than at 8192
# (less padding, a working set that stays in cache; docs/models.md). A GPU wants large runs.
CPU_RUN_TOKENS = 256
CUDA_RUN_TOKENS = 8192


class RunAbandonedError(Exception):
    """`Encoder.run` stopped early because its `abandoned` check said nobody wants the rows any more."""


class Device(StrEnum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


def default_threads() -> int:
    """Threads for one session: LEXSENT_THREADS if set, else every core (never oversubscribed). A value
    that is not a count of at least 1 is refused: "0" silently meant every core of a shared machine."""
    value = os.environ.get("LEXSENT_THREADS")
    if value is None:
        return os.cpu_count() or 1
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit() and int(digits) >= 1):
        raise InvalidInputError(f"LEXSENT_THREADS must be a whole number of at least 1, got {value!r}")
    return int(digits)


@dataclass(frozen=True)
class Embeddings:
    """Vectors plus per-input accounting the servers report (token counts, truncation flags)."""

    vectors: Vectors
    token_counts: list[int]
    truncated: list[bool]


def _providers(device: Device) -> list[str]:
    available = ort.get_available_providers()
    if device is Device.CUDA:
        if "CUDAExecutionProvider" not in available:
            raise BundleError("device=cuda requested but onnxruntime has no CUDAExecutionProvider")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device is Device.AUTO and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class Encoder:
    """Encodes text with one bundle. Thread-safe: onnxruntime sessions allow concurrent `run` calls."""

    def __init__(
        self,
        bundle: Bundle,
        *,
        threads: int | None = None,
        device: Device = Device.AUTO,
        max_batch_tokens: int | None = None,
        max_batch_size: int = 256,
        long_input: LongInputPolicy = LongInputPolicy.TRUNCATE,
    ) -> None:
        if threads is not None and threads < 1:  # `threads or default` would read 0 as every core
            raise InvalidInputError(f"threads must be at least 1, got {threads} (leave it unset for the default)")
        self.bundle = bundle
        self.manifest: Manifest = bundle.manifest
        self.max_batch_size = max_batch_size
        self.tokenizer = TextTokenizer(bundle.tokenizer_path, bundle.manifest.max_length, long_input)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spin-waiting intra-op threads keep the cores busy between runs, starving the tokeniser and the
        # server's event loop; off, the server measured ~2x throughput at concurrency 16 (docs/server.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Finer-grained intra-op work blocks, so a thread preempted by the event loop or the tokeniser does
        # not hold up the whole operator: +4-10 % server throughput on 2 cores in one A/B run of bench/serve.
        options.add_session_config_entry("session.dynamic_block_base", "4")
        try:
            self.session = ort.InferenceSession(str(bundle.model_path), options, providers=_providers(device))
        except Exception as exc:  # onnxruntime raises its own untyped errors on bad graphs
            raise BundleError(f"{bundle.model_path}: onnxruntime cannot load the model ({exc})") from exc
        on_gpu = "CUDAExecutionProvider" in self.session.get_providers()
        self.max_batch_tokens = max_batch_tokens or (CUDA_RUN_TOKENS if on_gpu else CPU_RUN_TOKENS)
        self._inputs = [i.name for i in self.session.get_inputs()]
        self.packed = is_packed(self._inputs)
        missing = set(PACKED_INPUTS if self.packed else ["input_ids", "attention_mask"]) - set(self._inputs)
        if missing:
            raise BundleError(f"{bundle.model_path}: graph lacks inputs {sorted(missing)}")
        self._require_output_dim()

    def _require_output_dim(self) -> None:
        """The manifest is not fingerprinted, so a hand edit of `dim` would otherwise surface as a shape
        error on the first request; the graph's declared width is checked against it at load instead."""
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        if "embedding" not in outputs:
            raise BundleError(f"{self.bundle.model_path}: graph has no 'embedding' output (has {sorted(outputs)})")
        width = outputs["embedding"][-1] if outputs["embedding"] else None
        if isinstance(width, int) and width != self.manifest.dim:
            raise BundleError(
                f"{self.bundle.path}: {MANIFEST_FILE} says dim {self.manifest.dim} but the graph's embedding "
                f"has {width} values; restore the manifest or re-export the bundle"
            )

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def fingerprint(self) -> str:
        return self.manifest.fingerprint

    def tokenize(
        self, texts: Sequence[object], policy: LongInputPolicy | None = None, label: Label = input_label
    ) -> list[Tokenized]:
        return self.tokenizer(texts, policy, label=label)

    def run(self, items: Sequence[Tokenized], abandoned: Callable[[], bool] | None = None) -> Vectors:
        """Embed tokenised inputs in runs of at most `max_batch_tokens` tokens — packed rows for a packed
        graph (`lexsent.packing`), else length-sorted padded batches, counting the padding; rows come back
        in input order. `abandoned` is asked before each run after the first, and a true answer raises
        `RunAbandonedError`: a server stops a large batch whose callers have all gone."""
        out = np.empty((len(items), self.dim), dtype=np.float32)
        lengths = [len(t) for t in items]
        if self.packed:
            row_tokens = min(self.max_batch_tokens, MAX_ROW_TOKENS)
            runs = plan_runs(lengths, row_tokens, self.max_batch_tokens, self.max_batch_size)
        else:
            runs = [[batch] for batch in plan_batches(lengths, self.max_batch_tokens, self.max_batch_size)]
        for number, rows in enumerate(runs):
            if number and abandoned is not None and abandoned():
                raise RunAbandonedError(f"stopped after {number} runs")
            out[[i for row in rows for i in row]] = self._run([[items[i] for i in row] for row in rows])
        return out

    def _run(self, rows: list[list[Tokenized]]) -> Vectors:
        """One onnxruntime call: packed rows, or (a padded graph) one batch, `rows[0]`."""
        pad_id = self.tokenizer.pad_id
        feed = pack_rows(rows, pad_id) if self.packed else pad_batch(rows[0], pad_id)
        return np.asarray(self.session.run(["embedding"], {k: feed[k] for k in self._inputs})[0], dtype=np.float32)

    def embed(self, texts: Sequence[object], policy: LongInputPolicy | None = None) -> Embeddings:
        tokens = self.tokenize(texts, policy)
        return Embeddings(
            vectors=self.run(tokens),
            token_counts=[len(t) for t in tokens],
            truncated=[t.truncated for t in tokens],
        )

    def encode(self, texts: Sequence[object], policy: LongInputPolicy | None = None) -> Vectors:
        """Encode strings to a float32 array of shape [len(texts), dim]."""
        return self.run(self.tokenize(texts, policy))


def load(
    path: str | Path,
    *,
    threads: int | None = None,
    device: Device = Device.AUTO,
    max_batch_tokens: int | None = None,
    long_input: LongInputPolicy = LongInputPolicy.TRUNCATE,
) -> Encoder:
    """Open a bundle directory (fingerprint-checked) and return an :class:`Encoder` over it."""
    return Encoder(
        Bundle.open(path),
        threads=threads,
        device=device,
        max_batch_tokens=max_batch_tokens,
        long_input=long_input,
    )
