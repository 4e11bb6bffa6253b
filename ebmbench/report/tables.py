"""Tables for papers and pull requests: per-metric pivots (methods x tasks, mean ± CI,
best in each column in bold) as Markdown, LaTeX (booktabs) and HTML, and the
status table of a run.

The numbers come from ebmbench.summary.pivot (the same bootstrap CIs as
`ebmbench show`); pandas formats them: Styler for HTML and LaTeX (its escaping
handles plugin text), DataFrame.to_markdown (tabulate) for Markdown, where cells
are escaped here because Markdown renderers accept inline HTML.
"""

from __future__ import annotations

import html
from pathlib import Path

from ebmbench.report.data import RunData
from ebmbench.report.style import slug

__all__ = [
    "STATUSES",
    "MetricTable",
    "lean_html",
    "md_escape",
    "metric_table",
    "metric_tables",
    "problems",
    "status_counts",
    "write_tables",
]

STATUSES = ("done", "skipped", "error", "diverged", "timeout")
BOLD = "font-weight: bold"


def md_escape(text) -> str:
    """Plugin text made literal inside a Markdown table cell (no HTML, no column break)."""
    return (
        html.escape(str(text), quote=False)
        .replace("|", "\\|")
        .replace("*", "\\*")
        .replace("_", "\\_")
        .replace("`", "\\`")
        .replace("\n", " ")
    )


def lean_html(styled: str) -> str:
    """Styler's HTML without what the page does not use: an id on every cell (only the
    cells its <style> rules name keep theirs), position classes and indentation — half the
    bytes of the 30-odd pivot tables of a `run --all` report."""
    import re

    used = set(re.findall(r"#(T_[\w-]+)", styled))
    styled = re.sub(r' id="(T_[\w-]+)"', lambda m: m.group(0) if m.group(1) in used else "", styled)
    styled = re.sub(r' class="(?:data|row_heading|col_heading|blank|index_name)[^"]*"', "", styled)
    return re.sub(r"\n\s+", "\n", styled)


class MetricTable:
    """One metric: display strings, numeric means and the best-in-column mask."""

    def __init__(self, metric: str, direction: str, display, means, interval: str = "mean ± interval over seeds"):
        self.metric, self.direction, self.interval = metric, direction, interval
        self.display, self.means = display, means
        self.best = self._best()

    def _best(self):
        import numpy as np

        best = self.means.notna() & False
        if self.direction not in ("higher", "lower"):
            return best  # reported, not ranked: nothing is "best"
        for col in self.means.columns:
            values = self.means[col]
            if values.notna().any():
                target = values.max() if self.direction == "higher" else values.min()
                best[col] = np.isclose(values, target, rtol=1e-12, atol=0) & values.notna()
        return best

    @property
    def header(self) -> str:
        from ebmbench.summary import ARROW

        return f"{self.metric} {ARROW.get(self.direction, '(not ranked)')}"

    def _styler(self, escape: str, formatter=None):
        frame = self.display.copy()
        frame.index.name = None  # Styler does not escape index names: the header says the metric
        frame.columns.name = None
        mask = self.best.reindex_like(frame).fillna(False)
        return (
            frame.style.format(escape=escape, formatter=formatter)
            .format_index(escape=escape, axis=0)
            .format_index(escape=escape, axis=1)
            .apply(lambda _: mask.map(lambda b: BOLD if b else ""), axis=None)
        )

    def to_html(self, uuid: str) -> str:
        return lean_html(self._styler("html").set_uuid(uuid).set_table_attributes('class="pivot"').to_html())

    def to_latex(self) -> str:
        def latex(s):
            return s.replace("±", r"$\pm$").replace("—", "---")

        arrow = {"higher": r"$\uparrow$", "lower": r"$\downarrow$"}.get(self.direction, "(not ranked)")
        caption = "".join(_LATEX.get(c, c) for c in self.metric) + " " + arrow
        body = self._styler("latex", latex).to_latex(convert_css=True, hrules=True, column_format=None)
        return (
            f"% {self.metric}: {self.interval.replace('±', '+-')}; best per task in bold\n"
            f"\\begin{{table}}[t]\n\\centering\n\\caption{{{caption}}}\n{body}\\end{{table}}\n"
        )

    def to_markdown(self) -> str:
        frame = self.display.copy()
        for col in frame.columns:
            frame[col] = [
                f"**{md_escape(v)}**" if b else md_escape(v)
                for v, b in zip(frame[col], self.best.reindex_like(frame)[col].fillna(False))
            ]
        frame.index = [md_escape(i) for i in frame.index]
        frame.columns = [md_escape(c) for c in frame.columns]
        frame.index.name = md_escape(f"{self.header} · model/method")
        return frame.to_markdown()


_LATEX = {
    "\\": r"\textbackslash{}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def metric_table(run: RunData, metric: str) -> MetricTable | None:
    from ebmbench.summary import pivot

    display = pivot(run.df, metric, run.directions, agg=run.agg)  # one aggregate for every table
    if display.empty:
        return None
    means = run.means(metric)
    order = [lab for lab in run.labels if lab in display.index] + [
        lab for lab in display.index if lab not in run.labels
    ]
    return MetricTable(
        metric,
        run.directions.get(metric, "none"),
        display.loc[order],
        means.reindex(index=order, columns=display.columns),
        run.interval(metric=metric),
    )


def metric_tables(run: RunData) -> list[MetricTable]:
    tables = [metric_table(run, m) for m in run.metrics]
    return [t for t in tables if t is not None]


# --------------------------------------------------------------------------- status
def status_counts(run: RunData):
    """One row per (task, model/method): cells per status and the distinct reasons."""
    import pandas as pd

    df = run.df
    if df.empty:
        return pd.DataFrame(columns=["task", "model/method", *STATUSES, "reasons"])
    counts = df.groupby(["task", "label"])["status"].value_counts().unstack(fill_value=0)
    counts = counts.reindex(columns=list(STATUSES), fill_value=0)
    reasons = (
        df[df["status"] != "done"]
        .groupby(["task", "label"])["reason"]
        .agg(lambda r: "; ".join(dict.fromkeys(str(x) for x in r if isinstance(x, str) and x)))
    )
    table = counts.join(reasons.rename("reasons")).fillna({"reasons": ""}).reset_index()
    return table.rename(columns={"label": "model/method"})


def status_by_task(run: RunData):
    """Cells per task and status, with a total row."""
    import pandas as pd

    if run.df.empty:
        return pd.DataFrame(columns=["task", *STATUSES])
    table = pd.crosstab(run.df["task"], run.df["status"]).reindex(columns=list(STATUSES), fill_value=0)
    table.loc["all tasks"] = table.sum()
    return table.reset_index().rename_axis(columns=None)


def failing_pairs(run: RunData):
    """status_counts of the (task, model/method) pairs with an error, divergence or timeout."""
    table = status_counts(run)
    return table[(table[["error", "diverged", "timeout"]] > 0).any(axis=1)] if len(table) else table


def skip_reasons(run: RunData):
    """Why cells were skipped: one row per reason with the number of cells."""
    import pandas as pd

    skipped = run.df[run.df["status"] == "skipped"] if not run.df.empty else run.df
    if skipped.empty:
        return pd.DataFrame(columns=["reason", "cells"])
    counts = skipped["reason"].fillna("").value_counts()
    return pd.DataFrame({"reason": counts.index, "cells": counts.to_numpy()})


def problems(run: RunData):
    """Cells that ended in error, diverged or timeout, and done cells in which a metric
    raised (status "metric error", reason: which metrics and why), with the tracebacks."""
    from ebmbench.execution.progress import metric_errors

    df = run.df
    if df.empty:
        return df
    cols = ["task", "label", "rep", "status", "reason", "traceback"]
    failed = df["status"].isin(["error", "diverged", "timeout"])
    raised = df["metric_errors"].notna() & ~failed if "metric_errors" in df.columns else failed & False
    bad = df[failed | raised].copy()
    if raised.any():
        bad.loc[raised[failed | raised], "status"] = "metric error"
        bad.loc[raised[failed | raised], "reason"] = [
            "; ".join(f"{m}: {msg}" for m, msg in metric_errors(r).items()) for r in df[raised].to_dict("records")
        ]
    return bad[[c for c in cols if c in bad.columns]].sort_values(["task", "label", "rep"])


def md_table(table) -> str:
    """A frame as a Markdown table, every cell and header escaped."""
    frame = table.copy()
    frame.columns = [md_escape(c) for c in frame.columns]
    return frame.map(md_escape).to_markdown(index=False)


def status_markdown(run: RunData) -> str:
    """Cells per task and status, then the pairs that failed, then the skip reasons."""
    parts = ["Cells per task and status:", "", md_table(status_by_task(run))]
    failing = failing_pairs(run)
    if len(failing):
        parts += ["", "Model/methods with errors, divergences or timeouts:", "", md_table(failing)]
    reasons = skip_reasons(run)
    if len(reasons):
        parts += ["", "Skipped cells by reason:", "", md_table(reasons)]
    return "\n".join(parts)


def write_tables(run: RunData, out_dir: Path, tables: list[MetricTable]) -> list[Path]:
    """tables/<metric>.md and .tex for every metric, and tables/status.md."""
    folder = Path(out_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for t in tables:
        for ext, text in (("md", t.to_markdown() + "\n"), ("tex", t.to_latex())):
            path = folder / f"{slug(t.metric)}.{ext}"
            path.write_text(text)
            written.append(path)
    path = folder / "status.md"
    path.write_text(status_markdown(run) + "\n")
    written.append(path)
    return written
