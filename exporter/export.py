"""`export_bundle`: a local encoder directory → a verified ONNX bundle (and optionally its int8 twin).

Everything is built in a temporary directory beside the target and moved into place only after parity
passes, so a failed export never leaves a half-written or unverified bundle behind.
"""

from __future__ import annotations

import inspect
import logging
import shutil
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModel, AutoTokenizer

import lexsent
from exporter.graph import export_onnx, optimize, quantize_int8
from exporter.head import EmbeddingHead, PackedHead
from exporter.parity import Runner, measure, onnx_runner, require_fp32, require_int8
from exporter.probes import probe_batches
from exporter.source import read_source
from exporter.staging import int8_path, publish, require_bundle_name, require_replaceable, staging_dir
from lexsent.errors import ExportError
from lexsent.fingerprint import fingerprint_files
from lexsent.manifest import MODEL_FILE, TOKENIZER_FILE, Manifest, ModelKind, Pooling, Precision
from lexsent.packing import PACKED_INPUTS, graph_feed
from lexsent.padding import pad_batch
from lexsent.tokenizer import TextTokenizer, Tokenized

log = logging.getLogger(__name__)


class Quantization(StrEnum):
    INT8 = "int8"


def _copy_tokenizer(backbone: Path, source: Path, target: Path) -> None:
    for candidate in (backbone / TOKENIZER_FILE, source / TOKENIZER_FILE):
        if candidate.is_file():
            shutil.copyfile(candidate, target)
            return
    fast = AutoTokenizer.from_pretrained(str(backbone), use_fast=True, local_files_only=True)
    if not getattr(fast, "is_fast", False):
        raise ExportError(f"{backbone}: no tokenizer.json and no fast tokenizer to convert")
    fast.backend_tokenizer.save(str(target))


def _require_settings(name: str, max_length: int | None, threads: int) -> None:
    """Settings checked before any work: a bad one would otherwise surface as a traceback, some only
    after the whole export has run (the name is checked when the manifest is written)."""
    require_bundle_name(name, "set --name, or name the --out directory so")
    if max_length is not None and max_length < 2:
        raise ExportError(f"--max-length must be at least 2 (room for the special tokens), got {max_length}")
    if threads < 1:
        raise ExportError(f"--threads must be at least 1, got {threads}")


def _require_matching_vocabulary(tokens: int, model_vocab: int, src: str | Path) -> None:
    """transformers builds a tokenizer of special tokens only when a directory has no tokenizer files, and
    parity cannot notice (both sides see the same [UNK]s): every word would embed alike."""
    if model_vocab and tokens < model_vocab // 2:
        raise ExportError(
            f"{src}: its tokenizer has {tokens} tokens but the model's vocabulary has {model_vocab}; the "
            "directory lacks its tokenizer files (tokenizer.json, or vocab.txt / sentencepiece model)"
        )


def _load_backbone(path: Path) -> torch.nn.Module:
    try:
        model = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager")
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path}: cannot load the encoder with transformers ({exc})") from exc
    return model.eval()


def _uses_token_types(model: torch.nn.Module) -> bool:
    accepts = "token_type_ids" in inspect.signature(model.forward).parameters
    return accepts and int(getattr(model.config, "type_vocab_size", 0) or 0) > 1


def _packs(model: torch.nn.Module, pooling: Pooling) -> bool:
    """Whether the exported graph takes packed rows (`lexsent.packing`): BERT with absolute positions,
    whose forward takes explicit position ids and a 4-D attention mask. Others (RoBERTa's positions
    count from the padding id, DistilBERT takes no position ids, relative position schemes…) are
    exported padded, and so is max pooling, whose per-input maximum over a run's tokens would hold an
    [inputs, tokens, width] array (gigabytes for a CUDA run of 8,192 tokens). Either way parity against
    the padded torch model decides whether the bundle is written."""
    config = model.config
    bert = config.model_type == "bert" and getattr(config, "position_embedding_type", "absolute") == "absolute"
    return bert and pooling is not Pooling.MAX


def _torch_runner(head: EmbeddingHead, pad_id: int) -> Runner:
    def run(items: Sequence[Tokenized]) -> npt.NDArray[np.float32]:
        tensors = {k: torch.from_numpy(v) for k, v in pad_batch(items, pad_id).items()}
        with torch.no_grad():
            out = head(tensors["input_ids"], tensors["attention_mask"], tensors["token_type_ids"])
        return np.asarray(out.numpy(), dtype=np.float32)

    return run


def export_bundle(
    src: str | Path,
    out: str | Path,
    *,
    pooling: Pooling | str | None = None,
    normalize: bool | None = None,
    max_length: int | None = None,
    name: str | None = None,
    kind: ModelKind | str | None = None,
    quantize: Quantization | str | None = None,
    languages: list[str] | None = None,
    evaluation: dict[str, float] | None = None,
    threads: int = 2,
) -> Path:
    """Export `src` into bundle directory `out` (and `out-int8` with `quantize="int8"`); returns `out`."""
    out = Path(out)
    _require_settings(name or out.resolve().name, max_length, threads)
    require_replaceable(out)  # before minutes of work, not at the end
    if quantize:
        require_replaceable(int8_path(out))
    torch.set_num_threads(threads)
    source = read_source(src)
    chosen_pooling = Pooling(pooling) if pooling else (source.pooling or Pooling.MEAN)
    chosen_normalize = source.normalize if normalize is None else normalize
    chosen_normalize = True if chosen_normalize is None else chosen_normalize
    length = max_length or source.max_length or 512
    if source.max_length and length > source.max_length:
        raise ExportError(f"--max-length {length} exceeds the model's {source.max_length} positions")
    backbone = _load_backbone(source.backbone_path)
    padded_inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if _uses_token_types(backbone) else [])
    head = EmbeddingHead(backbone, chosen_pooling, chosen_normalize, "token_type_ids" in padded_inputs).eval()
    with staging_dir(out) as staging:
        _copy_tokenizer(source.backbone_path, source.path, staging / TOKENIZER_FILE)
        tokenizer = TextTokenizer(staging / TOKENIZER_FILE, length)
        _require_matching_vocabulary(tokenizer.vocab_size, int(getattr(backbone.config, "vocab_size", 0) or 0), src)
        batches = probe_batches(tokenizer)
        # A packed graph feeds token type 0 throughout: a tokenizer whose template types a single input
        # otherwise (some do) gets the padded graph, which takes the tokenizer's type ids.
        typed = any(any(item.type_ids) for batch in batches for item in batch)
        packed = _packs(backbone, chosen_pooling) and not typed
        exported: torch.nn.Module = PackedHead(backbone, chosen_pooling, chosen_normalize).eval() if packed else head
        inputs = PACKED_INPUTS if packed else padded_inputs
        raw = staging / "raw.onnx"
        export_onnx(exported, graph_feed(inputs, batches[0], tokenizer.pad_id), inputs, raw)
        config = backbone.config
        fusions = optimize(raw, staging / MODEL_FILE, config.num_attention_heads, config.hidden_size)
        raw.unlink()
        fp32_runner = onnx_runner(staging / MODEL_FILE, threads, tokenizer.pad_id)
        parity = measure(_torch_runner(head, tokenizer.pad_id), fp32_runner, batches, "torch")
        require_fp32(parity)
        manifest = Manifest(
            name=name or out.name,
            kind=ModelKind(kind) if kind else ModelKind.SENTENCE,
            architecture=source.model_type,
            dim=int(fp32_runner(batches[1]).shape[1]),
            max_length=length,
            pooling=chosen_pooling,
            normalized=chosen_normalize,
            precision=Precision.FP32,
            inputs=inputs,
            languages=languages or ["en"],
            parity=parity,
            evaluation=evaluation or {},
            fingerprint=fingerprint_files(staging / MODEL_FILE, staging / TOKENIZER_FILE),
            lexsent_version=lexsent.__version__,
            source=str(source.path),
            extra={"fusions": fusions},
        )
        if quantize:
            _export_int8(staging, out, manifest, batches, tokenizer.pad_id, threads)
        manifest.write(staging)
        publish(staging, out)
    log.info("exported %s (parity max abs diff %.2e)", out, parity.max_abs_diff)
    return out


def _export_int8(
    fp32_dir: Path,
    out: Path,
    fp32: Manifest,
    batches: list[list[Tokenized]],
    pad_id: int,
    threads: int,
) -> None:
    target = int8_path(out)
    with staging_dir(target) as staging:
        quantize_int8(fp32_dir / MODEL_FILE, staging / MODEL_FILE)
        shutil.copyfile(fp32_dir / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        parity = measure(
            onnx_runner(fp32_dir / MODEL_FILE, threads, pad_id),
            onnx_runner(staging / MODEL_FILE, threads, pad_id),
            batches,
            "fp32",
        )
        require_int8(parity)
        manifest = fp32.model_copy(
            update={
                "name": f"{fp32.name}-int8",
                "precision": Precision.INT8,
                "parity": parity,
                "fingerprint": fingerprint_files(staging / MODEL_FILE, staging / TOKENIZER_FILE),
            }
        )
        manifest.write(staging)
        publish(staging, target)
