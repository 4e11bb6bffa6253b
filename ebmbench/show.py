"""`ebmbench show`: a run's tables as rich tables, Markdown, LaTeX, CSV or JSON.

Without --metric: one leaderboard per task (ranked by the task's main metric) and
the rank table across tasks. With --metric: the methods x tasks pivot of that metric.
CSV and JSON give the aggregated long table (task, label, metric, mean, std, CI, n),
the form scripts want.
"""

from __future__ import annotations

from pathlib import Path

from ebmbench.errors import UsageError, unknown_name
from ebmbench.results.runs import load_meta, load_results
from ebmbench.summary import aggregate, leaderboard, metric_columns, pivot, ranks, skipped_pairs

__all__ = ["FORMATS", "render_run", "rich_table"]

FORMATS = ("table", "md", "latex", "csv", "json")


def rich_table(frame, title: str, index: bool = False):
    """A rich Table of a frame; cell text is literal (labels contain [brackets])."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), title_justify="left")
    if index:
        frame = frame.reset_index()
    for col in frame.columns:
        table.add_column(Text(str(col)), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(Text(_fmt(v)) for v in row))
    return table


def _fmt(v) -> str:
    if isinstance(v, float):
        return "—" if v != v else f"{v:.3g}"
    return str(v)


def _metric_names(metric: str | None, df, meta) -> list[str] | None:
    """The metrics named by --metric (comma-separated), each checked, or None for all."""
    if metric is None:
        return None
    known = metric_columns(df, meta["metric_directions"])
    names = [m.strip() for m in metric.split(",") if m.strip()]
    for name in names:
        if name not in known:
            raise unknown_name("metrics", name, known)
    return names


def _frames(df, meta, task, metric, digits=3):
    """(title, frame, show_index) pairs to render; `metric` may name several, comma-separated."""
    directions = meta["metric_directions"]
    metrics = metric_columns(df, directions)
    names = _metric_names(metric, df, meta)
    tasks = sorted(df["task"].unique())
    if task is not None:
        if task not in tasks:
            raise unknown_name("tasks", task, tasks)
        df = df[df["task"] == task]
        tasks = [task]
    if names is not None:
        return [
            (f"{name} — mean ± 95% CI over seeds", pivot(df, name, directions, digits=digits), True) for name in names
        ]
    out = []
    for t in tasks:
        main = meta["main_metrics"].get(t) or (metrics[0] if metrics else "")
        if main not in metrics:
            main = metrics[0] if metrics else main
        out.append(
            (
                f"{t} — ranked by {main} (mean ± 95% CI over seeds)",
                leaderboard(df, t, main, directions, metrics, digits),
                False,
            )
        )
    rank_table = ranks(df, directions, meta["main_metrics"])
    if len(rank_table.columns) > 2:  # a cross-task ranking needs two tasks at least
        out.append(("rank by each task's main metric (1 = best)", rank_table.round(2), True))
    return out


def render_run(
    run_dir: Path, task: str | None = None, metric: str | None = None, fmt: str = "table", console=None, digits: int = 3
) -> str | None:
    """Print (fmt=table, via `console`) or return the text of a run's tables."""
    meta = load_meta(run_dir)
    df = load_results(run_dir)
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    header = (
        f"run {meta['run_id']} · profile {meta['profile']['name']} · {meta['status']} · "
        f"{len(df)} of {meta['n_cells']} cells"
    )
    if df.empty:
        if fmt == "table":
            console.print(header)
            return None
        return "" if fmt in ("csv", "json") else header + "\n"
    if fmt in ("csv", "json"):
        long = aggregate(
            df if task is None else df[df["task"] == task],
            _metric_names(metric, df, meta) or metric_columns(df, meta["metric_directions"]),
        )
        return long.to_csv(index=False) if fmt == "csv" else long.to_json(orient="records", indent=2)
    frames = _frames(df, meta, task, metric, digits)
    if fmt == "table":
        from rich.text import Text

        console.print(Text(header))
        for title, frame, index in frames:
            console.print(rich_table(frame, title, index))
        grouped: dict[tuple[str, str], list[str]] = {}
        for t, lab, reason in skipped_pairs(df):
            if task in (None, t):
                grouped.setdefault((lab, reason), []).append(t)
        shown = list(grouped.items())
        if len(shown) > 8:  # --all skips hundreds of incompatible pairs: count them instead
            console.print(
                Text(
                    f"skipped {sum(len(t) for t in grouped.values())} incompatible "
                    f"(task, model, method) combinations; their reasons are in the "
                    f"report's status table and in results.parquet",
                    style="dim",
                )
            )
            shown = []
        for (lab, reason), tasks in shown:
            console.print(Text(f"skipped {lab} on {', '.join(tasks)}: {reason}", style="dim"))
        for row in df[df["status"].isin(["error", "diverged", "timeout"])].itertuples():
            if task in (None, row.task):
                line = Text(f"{row.status}: ", style="red")
                line.append(f"{row.task} {row.label} #{row.rep}: {row.reason}")
                console.print(line)
        return None
    parts = []
    for title, frame, index in frames:
        if fmt == "md":
            parts.append(f"### {title}\n\n{frame.to_markdown(index=index)}\n")
        else:
            styler = frame.style if index else frame.style.hide(axis="index")
            parts.append(f"% {title}\n" + styler.to_latex(hrules=True))
    return "\n".join(parts)
