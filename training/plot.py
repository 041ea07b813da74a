"""Loss-curve PNG for a run directory (reads `loss.jsonl` written by `training.progress.LossLog`)."""

from __future__ import annotations

from pathlib import Path

from training.progress import LossLog


def plot_loss(run_dir: Path, title: str, out: Path | None = None, key: str = "loss") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in LossLog(run_dir).read() if key in row]
    out = out or run_dir / "loss.png"
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r[key] for r in rows], linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
