"""Read a local Hugging Face or sentence-transformers directory: backbone, tokenizer, pooling config.

sentence-transformers directories carry their post-processing in `modules.json` + `1_Pooling/config.json`
(+ a Normalize module); those settings are honoured so an export reproduces `SentenceTransformer.encode`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lexsent.errors import ExportError
from lexsent.manifest import Pooling

# sentence-transformers pooling modes, as `pooling_mode` values and as `pooling_mode_<mode>` flag names.
_ST_POOLING_MODES = {
    "mean": Pooling.MEAN,
    "mean_tokens": Pooling.MEAN,
    "cls": Pooling.CLS,
    "cls_token": Pooling.CLS,
    "max": Pooling.MAX,
    "max_tokens": Pooling.MAX,
}
# RoBERTa-style models offset positions by padding_idx + 1, so two positions are unusable.
_OFFSET_POSITION_TYPES = {"roberta", "xlm-roberta", "camembert", "longformer"}
# Config settings that make an otherwise bidirectional type attend causally: BERT-family decoders
# (is_decoder), XLM/FlauBERT (causal), XLNet (attn_type "uni").
_CAUSAL_SETTINGS = {"is_decoder": True, "causal": True, "attn_type": "uni"}
# Causal-LM types that are bidirectional unless one of those settings says otherwise.
_BIDIRECTIONAL_BY_DEFAULT = {"xlnet", "bert-generation"}
_ENCODERS = "a bidirectional encoder such as BERT, RoBERTa, XLM-R or MiniLM"


@dataclass(frozen=True)
class Source:
    """What the exporter needs to know about a source model directory."""

    path: Path
    backbone_path: Path
    model_type: str
    pooling: Pooling | None
    normalize: bool | None
    max_length: int | None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ExportError(f"{path}: expected a JSON object")
    return data


def _sentence_transformers_config(path: Path) -> tuple[Path, Pooling | None, bool | None, int | None]:
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path / 'modules.json'}: cannot read JSON ({exc})") from exc
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise ExportError(f"{path / 'modules.json'}: expected a list of module objects")
    backbone, pooling, normalize, max_length = path, None, False, None
    for module in modules:
        kind = str(module.get("type", ""))
        sub = path / str(module.get("path", ""))
        if kind.endswith("Transformer"):
            backbone = sub
            for name in ("sentence_bert_config.json", "sentence_xlnet_config.json"):
                if (sub / name).is_file():
                    max_length = _read_json(sub / name).get("max_seq_length")
        elif kind.endswith("Pooling"):
            pooling = _st_pooling(sub, _read_json(sub / "config.json"))
        elif kind.endswith("Normalize"):
            normalize = True
        else:  # a Dense projection, say: leaving it out would export a different model that passes parity
            raise ExportError(
                f"{path}: sentence-transformers module {kind or '?'} ({sub.name}) is not supported; lexsent "
                "exports Transformer, Pooling (mean, cls or max) and Normalize"
            )
    return backbone, pooling, normalize, max_length


def _st_pooling(sub: Path, config: dict[str, Any]) -> Pooling:
    """Both Pooling config formats: `{"pooling_mode": "mean"}` (newer) and `pooling_mode_*_tokens` flags."""
    if "pooling_mode" in config:
        chosen = [str(config["pooling_mode"])]
    else:
        chosen = [
            key.removeprefix("pooling_mode_") for key, on in config.items() if key.startswith("pooling_mode_") and on
        ]
    if len(chosen) != 1 or chosen[0] not in _ST_POOLING_MODES:
        raise ExportError(f"{sub}: pooling {chosen} is not supported; lexsent exports exactly one of mean, cls or max")
    return _ST_POOLING_MODES[chosen[0]]


def _attention_kinds() -> tuple[set[str], set[str]]:
    """Model types transformers knows as decoder-only and as encoder-decoder (its auto-class tables).

    A type with a causal-LM class is a decoder unless it also has a masked-LM class: bert, roberta,
    electra, ... have both (they become decoders only with is_decoder, checked separately).
    """
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    seq2seq = set(MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)
    decoders = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) - set(MODEL_FOR_MASKED_LM_MAPPING_NAMES) - seq2seq
    return decoders - _BIDIRECTIONAL_BY_DEFAULT, seq2seq


def require_bidirectional_encoder(config: dict[str, Any], where: Path) -> None:
    """Refuse a decoder-only or encoder-decoder model before it is loaded.

    A decoder exports and passes parity, but each token's vector sees only the tokens before it, so the
    pooled sentence vector is a poor one; an encoder-decoder needs decoder inputs that an encoder
    export never has. `where` is the directory holding `config` (named in the message).
    """
    model_type = str(config.get("model_type", "")) or "unknown"
    decoders, seq2seq = _attention_kinds()
    if config.get("is_encoder_decoder") is True or model_type in seq2seq:
        raise ExportError(
            f"{where}: model_type '{model_type}' is an encoder-decoder (seq2seq) model, not an encoder: its "
            "decoder has causal attention (each token sees only the tokens before it) and needs decoder inputs "
            f"a sentence encoder never has; use {_ENCODERS}"
        )
    flags = [f"{key}: {json.dumps(value)}" for key, value in _CAUSAL_SETTINGS.items() if config.get(key) == value]
    if flags or model_type in decoders:
        why = f" (its config.json sets {', '.join(flags)})" if flags else ""
        raise ExportError(
            f"{where}: model_type '{model_type}' is a decoder{why}: with causal attention each token sees only "
            f"the tokens before it, which makes a poor sentence encoder; use {_ENCODERS}"
        )


def read_source(path: str | Path) -> Source:
    """Inspect a local model directory; the hub is never contacted."""
    directory = Path(path)
    if not directory.is_dir():
        raise ExportError(f"{directory}: not a directory (lexsent exports local model directories only)")
    pooling: Pooling | None = None
    normalize: bool | None = None
    max_length: int | None = None
    backbone = directory
    if (directory / "modules.json").is_file():
        backbone, pooling, normalize, max_length = _sentence_transformers_config(directory)
    if not (backbone / "config.json").is_file():
        raise ExportError(f"{backbone}: missing config.json; expected a Hugging Face encoder directory")
    config = _read_json(backbone / "config.json")
    require_bidirectional_encoder(config, backbone)
    model_type = str(config.get("model_type", "")) or "unknown"
    limit = config.get("max_position_embeddings")
    if isinstance(limit, int):
        limit -= 2 if model_type in _OFFSET_POSITION_TYPES else 0
        max_length = min(max_length, limit) if max_length else limit
    return Source(
        path=directory,
        backbone_path=backbone,
        model_type=model_type,
        pooling=pooling,
        normalize=normalize,
        max_length=max_length,
    )
