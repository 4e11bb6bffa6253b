"""Reports of a run: figures (light PNG, plus SVG for vector figures), tables (Markdown,
LaTeX, HTML), a self-contained `report.html` and a compact `report.md`.

    from ebmbench.report import build_report
    result = build_report("results/runs/<id>")

`ebmbench run` calls `after_run` when a run ends; `ebmbench report RUN` calls
`build_report`. Importing this package is cheap: matplotlib, seaborn and pandas
are imported only while a report is built (the worker imports
`ebmbench.execution.artifacts` for every cell).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FIGURE_MAKERS", "ReportResult", "after_run", "build_report"]

# (module, function) in report order; each makes only the figures that apply to the run
FIGURE_MAKERS = (
    ("figures", "rank_heatmap"),
    ("figures", "cost_quality"),
    ("figures", "metric_comparison"),
    ("figures", "training_curves"),
    ("figures", "beta_sweep"),
    ("landscapes", "energy_landscapes"),
    ("landscapes", "conditional_inference"),
    ("landscapes", "digit_galleries"),
    ("landscapes", "inpainting"),
)


@dataclass
class ReportResult:
    out_dir: Path
    html: Path | None = None
    markdown: Path | None = None
    figures: list = field(default_factory=list)  # style.FigureInfo
    tables: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # figures that failed (the rest is still made)


_RUNS: dict = {}  # per process: the run a figure worker has loaded


# makers that draw one figure per task: rendered task by task, so the work spreads evenly
PER_TASK = ("training_curves", "metric_comparison")
# relative cost of one piece of work, to start the longest first (the pool then ends evenly)
WEIGHT = {"training_curves": 3, "metric_comparison": 2, "energy_landscapes": 2}


def render_figures(
    run_dir: Path, out: Path, maker: tuple[str, str], task: str | None = None, families: dict | None = None
) -> tuple[list, list[str]]:
    """One figure maker's figures (and its failure, if any), for one task or all; runs in a
    worker process. `families` (RunData.families, from the parent) spares each worker
    loading the plugin registry."""
    import copy
    import importlib

    from ebmbench.registry import format_exception
    from ebmbench.report.data import load_run
    from ebmbench.report.style import FigureWriter, theme

    if run_dir not in _RUNS:
        _RUNS.clear()
        _RUNS[run_dir] = load_run(run_dir)
        if families is not None:
            _RUNS[run_dir].__dict__["families"] = families
    run = _RUNS[run_dir]
    if task is not None:  # the same run (palette, labels) seen through one task
        run = copy.copy(run)
        run.__dict__["tasks"] = [task]
    writer = FigureWriter(out)
    module, name = maker
    try:
        with theme():
            getattr(importlib.import_module(f"ebmbench.report.{module}"), name)(run, writer)
    except Exception as exc:  # one broken figure must not cost the report
        return writer.figures, [f"{name}{f' ({task})' if task else ''}: {format_exception(exc)}"]
    return writer.figures, []


def _start_figures(run_dir: Path, out: Path, tasks: list[str], jobs: int | None, families: dict | None = None):
    """Start every maker's figures on `jobs` processes side by side (matplotlib is
    single-threaded; the makers and tasks are independent); returns a function that
    waits for them and gives (figures, problems) per piece of work, in report order.
    The heaviest work is submitted first, so no worker is left with a long figure at the end."""
    import os

    work = [(m, t) for m in FIGURE_MAKERS for t in (tasks if m[1] in PER_TASK else [None])]
    jobs = min(len(work), jobs or min(os.cpu_count() or 1, 4))
    if jobs <= 1:
        return lambda: [render_figures(run_dir, out, m, t, families) for m, t in work]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent may hold threads (a Dask client, rich's refresher)
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    first = sorted(range(len(work)), key=lambda i: -WEIGHT.get(work[i][0][1], 1))  # stable: report order within
    futures = {i: pool.submit(render_figures, run_dir, out, *work[i], families) for i in first}

    def gather():
        try:
            return [futures[i].result() for i in range(len(work))]
        finally:
            pool.shutdown(cancel_futures=True)

    return gather


def build_report(run_dir, out_dir=None, formats=("html", "md"), jobs: int | None = None) -> ReportResult:
    """Write the report of the run in `run_dir` to `out_dir` (default: the run folder).

    Figures are rendered by `jobs` processes (default: cores, at most 4). A figure
    that fails is reported in `problems` and left out; it never costs the rest.
    """
    from ebmbench.report.data import load_run
    from ebmbench.report.tables import metric_tables, write_tables

    t0 = time.perf_counter()
    run = load_run(Path(run_dir))
    out = Path(out_dir) if out_dir else run.run_dir
    out.mkdir(parents=True, exist_ok=True)
    result = ReportResult(out)
    figures = None
    if not run.df.empty and "html" in formats:  # the Markdown summary shows no figures
        figures = _start_figures(Path(run_dir), out, run.tasks, jobs, run.families)
    tables = metric_tables(run) if not run.df.empty else []  # while the figures render
    result.tables = write_tables(run, out, tables)
    for made, problems in figures() if figures else []:
        result.figures += made
        result.problems += problems
    if "md" in formats:
        from ebmbench.report.markdown import summary_markdown

        result.markdown = out / "report.md"
        result.markdown.write_text(summary_markdown(run, result.figures, time.perf_counter() - t0))
    if "html" in formats:
        from ebmbench.report.html import render_html

        result.html = out / "report.html"
        result.html.write_text(render_html(run, result.figures, tables, time.perf_counter() - t0))
    result.seconds = time.perf_counter() - t0
    return result


def after_run(run_dir, console=None) -> ReportResult | None:
    """The report step at the end of `ebmbench run`: never fails the run, says where it is."""
    import sys

    try:
        result = build_report(run_dir)
    except Exception as exc:
        print(f"report: failed ({type(exc).__name__}: {exc}); retry with `ebmbench report {run_dir}`", file=sys.stderr)
        return None
    msg = f"report: {result.html} ({len(result.figures)} figures, {result.seconds:.1f} s)"
    print(msg) if console is None else console.print(msg, markup=False, soft_wrap=True)
    for problem in result.problems:
        print(f"report: a figure failed: {problem.splitlines()[0]}", file=sys.stderr)
    return result
