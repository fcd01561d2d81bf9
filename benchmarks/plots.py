"""The one way benchmark scripts draw a figure: a headless pyplot axis, labelled and saved as PNG."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


@contextmanager
def figure(png: Path, *, title: str, xlabel: str, ylabel: str, size: tuple[float, float] = (7.0, 4.0)):
    """Yield an axis to draw on; on exit label it, add a grid and a legend, and save `png` (Agg: no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    try:
        yield ax
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(png, dpi=100)
    finally:
        plt.close(fig)
