"""BiLSTM encoders (LASER, distilled students) → verified ONNX bundles of kind `multilingual`.

The HF exporter cannot load these models, so the graph export is ours, but verification is the
exporter's: the same probe batches (padded, unpadded, max length), the same parity measure and
tolerance, the same staging/publish so a failed export never leaves a bundle behind.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch

import lexsent
from exporter.parity import Runner, measure, onnx_runner, require_fp32
from exporter.probes import probe_batches
from exporter.staging import publish, staging_dir
from lexsent.fingerprint import fingerprint_files
from lexsent.manifest import MODEL_FILE, TOKENIZER_FILE, Manifest, ModelKind, Pooling, Precision
from lexsent.padding import pad_batch
from lexsent.tokenizer import TextTokenizer, Tokenized
from training.multilingual.bilstm import BiLstmEncoder, EncoderConfig, PooledEncoder

OPSET = 17
INPUTS = ["input_ids", "attention_mask"]


def load_encoder(checkpoint: Path) -> tuple[BiLstmEncoder, dict[str, Any]]:
    """Encoder weights + config saved by a trainer (`encoder.pt`, read without pickle)."""
    saved: dict[str, Any] = torch.load(checkpoint, map_location="cpu", weights_only=True)
    encoder = BiLstmEncoder(EncoderConfig(**saved["config"]))
    encoder.load_state_dict(saved["state"])
    return encoder.eval(), saved


def _torch_runner(model: PooledEncoder, pad_id: int) -> Runner:
    def run(items: Sequence[Tokenized]) -> npt.NDArray[np.float32]:
        feed = pad_batch(items, pad_id)
        with torch.no_grad():
            out = model(torch.from_numpy(feed["input_ids"]), torch.from_numpy(feed["attention_mask"]))
        return np.asarray(out.numpy(), dtype=np.float32)

    return run


def export_encoder(
    checkpoint: Path,
    out: Path,
    *,
    name: str,
    architecture: str = "bilstm",
    max_length: int = 128,
    evaluation: dict[str, float] | None = None,
    threads: int = 2,
) -> Path:
    """Export `checkpoint` (with `tokenizer.json` beside it) into bundle `out`; parity must be ≤ 1e-4."""
    torch.set_num_threads(threads)
    encoder, saved = load_encoder(checkpoint)
    model = PooledEncoder(encoder).eval()
    with staging_dir(out) as staging:
        shutil.copyfile(checkpoint.parent / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        tokenizer = TextTokenizer(staging / TOKENIZER_FILE, max_length)
        batches = probe_batches(tokenizer)
        sample = pad_batch(batches[0], tokenizer.pad_id)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                tuple(torch.from_numpy(sample[k]) for k in INPUTS),
                str(staging / MODEL_FILE),
                dynamo=False,
                input_names=INPUTS,
                output_names=["embedding"],
                dynamic_axes={**{k: {0: "batch", 1: "sequence"} for k in INPUTS}, "embedding": {0: "batch"}},
                opset_version=OPSET,
            )
        onnx.checker.check_model(str(staging / MODEL_FILE))
        parity = measure(
            _torch_runner(model, tokenizer.pad_id),
            onnx_runner(staging / MODEL_FILE, threads, tokenizer.pad_id),
            batches,
            "torch",
        )
        require_fp32(parity)
        manifest = Manifest(
            name=name,
            kind=ModelKind.MULTILINGUAL,
            architecture=architecture,
            dim=encoder.config.dim,
            max_length=max_length,
            pooling=Pooling.MAX,
            normalized=False,
            precision=Precision.FP32,
            inputs=INPUTS,
            languages=list(saved.get("languages", ["en"])),
            parity=parity,
            evaluation=evaluation or {},
            fingerprint=fingerprint_files(staging / MODEL_FILE, staging / TOKENIZER_FILE),
            lexsent_version=lexsent.__version__,
            source=str(checkpoint),
            extra={"encoder": encoder.config.to_dict(), **saved.get("extra", {})},
        )
        manifest.write(staging)
        publish(staging, out)
    return out
