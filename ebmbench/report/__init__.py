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
    ("landscapes", "image_galleries"),
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


def _worker_run(run_dir: Path, known: dict | None = None):
    """The run a figure worker draws from: loaded once per process; `known` (RunData.known(),
    from the parent: the method families and headline metrics) spares each worker loading
    the plugin registry."""
    from ebmbench.report.data import load_run

    if run_dir not in _RUNS:
        _RUNS.clear()
        _RUNS[run_dir] = load_run(run_dir)
    run = _RUNS[run_dir]
    for key, value in (known or {}).items():
        run.__dict__.setdefault(key, value)  # seeds the cached properties
    return run


def _warm_worker(run_dir: Path) -> None:
    """A figure worker's first job, run while the parent loads its own copy of the run:
    import the drawing code and load the run (a second or two per process otherwise
    spent after the work is handed out). A failure here only costs the head start."""
    try:
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401

        from ebmbench.report import figures, landscapes  # noqa: F401

        _worker_run(run_dir)
    except Exception:  # noqa: BLE001 - render_figures reports whatever still fails
        pass


def render_figures(
    run_dir: Path, out: Path, maker: tuple[str, str], task: str | None = None, known: dict | None = None
) -> tuple[list, list[str]]:
    """One figure maker's figures (and its failure, if any), for one task or all; runs in a
    worker process."""
    import copy
    import importlib

    from ebmbench.registry import format_exception
    from ebmbench.report.style import FigureWriter, theme

    run = _worker_run(run_dir, known)
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


class _Figures:
    """The figures of a report, rendered on `jobs` processes side by side (matplotlib is
    single-threaded; the makers and tasks are independent). The workers start before
    the parent has read the run (`start`), the work follows when it has (`submit`), the
    heaviest first so that no worker is left with a long figure at the end; `gather`
    gives (figures, problems) per piece of work, in report order."""

    def __init__(self, run_dir: Path, out: Path, jobs: int | None):
        import os

        self.run_dir, self.out = run_dir, out
        self.jobs = jobs or min(os.cpu_count() or 1, 4)
        self.pool = None
        self.work: list = []
        self.futures: dict = {}

    def start(self) -> None:
        if self.jobs <= 1:
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the parent may hold threads (a Dask client, rich's refresher)
        self.pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(self.jobs):  # one submission starts one process (they start on demand)
            self.pool.submit(_warm_worker, self.run_dir)

    def submit(self, tasks: list[str], known: dict) -> None:
        self.work = [(m, t) for m in FIGURE_MAKERS for t in (tasks if m[1] in PER_TASK else [None])]
        self.known = known
        if self.pool is None:
            return
        first = sorted(range(len(self.work)), key=lambda i: -WEIGHT.get(self.work[i][0][1], 1))  # stable
        submit = self.pool.submit
        self.futures = {i: submit(render_figures, self.run_dir, self.out, *self.work[i], known) for i in first}

    def gather(self) -> list[tuple[list, list[str]]]:
        if self.pool is None:
            return [render_figures(self.run_dir, self.out, m, t, self.known) for m, t in self.work]
        try:
            return [self.futures[i].result() for i in range(len(self.work))]
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


def _has_rows(run_dir: Path) -> bool:
    """Whether the run has result rows, from the parquet footer alone (no data read)."""
    try:
        import pyarrow.parquet as pq

        return pq.ParquetFile(Path(run_dir) / "results.parquet").metadata.num_rows > 0
    except Exception:  # noqa: BLE001 - unreadable: load_run says why
        return False


def build_report(run_dir, out_dir=None, formats=("html", "md"), jobs: int | None = None) -> ReportResult:
    """Write the report of the run in `run_dir` to `out_dir` (default: the run folder).

    Figures are rendered by `jobs` processes (default: cores, at most 4). A figure
    that fails is reported in `problems` and left out; it never costs the rest.
    """
    from ebmbench.report.data import load_run
    from ebmbench.report.tables import metric_tables, write_tables

    t0 = time.perf_counter()
    figures = _Figures(Path(run_dir), Path(out_dir) if out_dir else Path(run_dir), jobs)
    if "html" in formats and _has_rows(run_dir):  # the Markdown summary shows no figures
        figures.start()
    try:
        run = load_run(Path(run_dir))
        out = Path(out_dir) if out_dir else run.run_dir
        out.mkdir(parents=True, exist_ok=True)
        result = ReportResult(out)
        draw = not run.df.empty and "html" in formats
        if draw:
            figures.submit(run.tasks, run.known())
        tables = metric_tables(run) if not run.df.empty else []  # while the figures render
        result.tables = write_tables(run, out, tables)
        if run.tasks:  # the leaderboards and ranks the pages need (cached), also while the figures render
            run.leaderboard(run.tasks[0])
            run.rank_table()
        for made, problems in figures.gather() if draw else []:
            result.figures += made
            result.problems += problems
    finally:
        figures.close()
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

    from ebmbench.errors import shown_path

    try:
        result = build_report(run_dir)
    except Exception as exc:
        print(f"report: failed ({type(exc).__name__}: {exc}); retry with `ebmbench report {run_dir}`", file=sys.stderr)
        return None
    msg = f"report: {shown_path(result.html)} ({len(result.figures)} figures, {result.seconds:.1f} s)"
    print(msg) if console is None else console.print(msg, markup=False, soft_wrap=True)
    for problem in result.problems:
        print(f"report: a figure failed: {problem.splitlines()[0]}", file=sys.stderr)
    return result
