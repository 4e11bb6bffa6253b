"""One look for every figure: seaborn's paper theme, sizes for a paper's columns,
PNG + SVG output, and no pyplot.

Figures are `matplotlib.figure.Figure` objects drawn on the Agg canvas directly:
no pyplot state, no GUI backend, nothing left open between figures. Text that
comes from plugins or parameters goes through `tx` (a `$` would start mathtext).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["COLUMN", "DPI", "PAGE", "FigureInfo", "FigureWriter", "legend_handles", "slug", "theme", "tx"]

COLUMN = 3.4  # inches: one column of a two-column paper
PAGE = 7.0  # inches: the full text width
DPI = 150  # PNG resolution: 1050 px across a page; the SVG is there for print


def tx(text) -> str:
    """Plugin text made literal for matplotlib (no mathtext)."""
    return str(text).replace("$", r"\$")


def slug(text) -> str:
    """A file-name-safe form of a task or metric name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "x"


@contextmanager
def theme():
    """seaborn's whitegrid + paper context, as an rc context (nothing global changes)."""
    import matplotlib
    import seaborn as sns

    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper", font_scale=0.9)}
    rc.update(
        {
            "font.family": "DejaVu Sans",  # ships with matplotlib: identical output everywhere
            "svg.fonttype": "none",  # SVG text stays text: small, searchable, editable
            "svg.hashsalt": "ebmbench",  # deterministic SVG ids
            "axes.titlesize": 8,
            "axes.labelsize": 7.5,
            "xtick.labelsize": 6.5,
            "ytick.labelsize": 6.5,
            "legend.fontsize": 6.5,
            "legend.title_fontsize": 7,
            "figure.titlesize": 9,
            "axes.titleweight": "bold",
            "lines.linewidth": 1.2,
            "image.interpolation": "nearest",
            "savefig.facecolor": "white",
        }
    )
    with matplotlib.rc_context(rc):
        yield


@dataclass
class FigureInfo:
    name: str  # file stem under figures/
    title: str
    caption: str
    section: str  # "overview", "task", "model"
    png: Path
    svg: Path
    task: str | None = None


@dataclass
class FigureWriter:
    """Creates figures and saves each as PNG and SVG under `<out>/figures/`."""

    out_dir: Path
    figures: list[FigureInfo] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return Path(self.out_dir) / "figures"

    @staticmethod
    def new(width: float, height: float, **kw):
        from matplotlib.figure import Figure

        return Figure(figsize=(width, height), layout="constrained", **kw)

    def save(self, fig, name: str, title: str, caption: str, section: str, task: str | None = None) -> FigureInfo:
        self.dir.mkdir(parents=True, exist_ok=True)
        png, svg = self.dir / f"{name}.png", self.dir / f"{name}.svg"
        fig.savefig(png, dpi=DPI, metadata={"Software": None})
        fig.set_layout_engine("none")  # keep the layout just computed: a second pass costs ~1 s
        fig.savefig(svg, metadata={"Date": None, "Creator": None})  # reproducible files
        info = FigureInfo(name, title, caption, section, png, svg, task)
        self.figures.append(info)
        return info


def legend_handles(palette: dict, labels) -> tuple[list, list[str]]:
    """Line handles for a figure-level legend of model/method colours."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=palette[lab], marker="o", markersize=4, linewidth=1.2) for lab in labels]
    return handles, [tx(lab) for lab in labels]
