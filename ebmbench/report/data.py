"""What every part of the report reads: one run's rows, curves, metadata and arrays.

Loaded once per report through ebmbench.results, so figures and tables agree on
which metrics exist, which way each is better, and the order of the methods.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ebmbench.results.runs import load_artifacts, load_curves, load_meta, load_results

__all__ = ["RunData", "direction_label", "load_run", "param_value", "rank_text"]

WORDS = {"higher": "higher is better ↑", "lower": "lower is better ↓"}


def direction_label(metric: str, direction: str | None, sep: str = " ") -> str:
    """Axis label naming the metric and which way is better."""
    return f"{metric}{sep}({WORDS.get(direction or 'none', 'not ranked')})"


def rank_text(v) -> str:
    """A rank for a table: two decimals, or a dash where the method did not run."""
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".") if math.isfinite(v) else "—"
    return str(v)


def param_value(params_json: Any, name: str) -> float | None:
    """A numeric parameter from a row's canonical JSON parameters (inf allowed)."""
    if not isinstance(params_json, str) or not params_json:
        return None
    try:
        value = json.loads(params_json).get(name)
    except (ValueError, AttributeError):
        return None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class RunData:
    run_dir: Path
    meta: dict[str, Any]
    df: Any  # results.parquet (pandas)
    curves: Any  # curves.parquet (pandas)
    _artifacts: dict[str, Any] = field(default_factory=dict, repr=False)
    _leaderboards: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id", self.run_dir.name))

    @property
    def directions(self) -> dict[str, str]:
        return dict(self.meta.get("metric_directions") or {})

    @cached_property
    def metrics(self) -> list[str]:
        """Metric columns present in the results with at least one finite value."""
        from ebmbench.summary import metric_columns

        if self.df.empty:
            return []
        return [m for m in metric_columns(self.df, self.directions) if self.df[m].notna().any()]

    @cached_property
    def done(self):
        return self.df[self.df["status"] == "done"] if not self.df.empty else self.df

    @cached_property
    def tasks(self) -> list[str]:
        return sorted(self.df["task"].unique()) if not self.df.empty else []

    def main_metric(self, task: str) -> str | None:
        """The task's main metric if it was measured, else its first measured metric."""
        main = (self.meta.get("main_metrics") or {}).get(task)
        measured = [m for m in self.metrics if self.done[self.done["task"] == task][m].notna().any()]
        if main in measured:
            return main
        ranked = [m for m in measured if self.directions.get(m, "none") != "none"]
        return (ranked or measured or [None])[0]

    @cached_property
    def agg(self):
        """summary.aggregate of every metric (mean, std, bootstrap CI, n), computed once:
        the bootstrap is the slow part of a report."""
        from ebmbench.summary import aggregate

        return aggregate(self.df, self.metrics)

    def means(self, metric: str):
        """Methods x tasks table of one metric's means (summary.pivot's numeric form)."""
        a = self.agg[self.agg["metric"] == metric]
        return a.pivot(index="label", columns="task", values="mean")

    def leaderboard(self, task: str):
        """summary.leaderboard of the task by its main metric (cached: HTML and Markdown share it)."""
        from ebmbench.summary import leaderboard

        if task not in self._leaderboards:
            main = self.main_metric(task)
            self._leaderboards[task] = leaderboard(self.df, task, main, self.directions, self.metrics) if main else None
        return self._leaderboards[task]

    @cached_property
    def ranks(self):
        """summary.ranks over the tasks' main metrics (methods x tasks, plus mean rank)."""
        from ebmbench.summary import ranks

        if self.done.empty:
            import pandas as pd

            return pd.DataFrame()
        mains = {t: self.main_metric(t) for t in self.tasks}
        return ranks(self.df, self.directions, {t: m for t, m in mains.items() if m})

    def rank_table(self):
        """The ranks with the number of tasks each method was ranked on (a mean rank over
        one task is not a mean rank over twelve), as display strings."""
        table = self.ranks.copy()
        if table.empty:
            return table
        tasks = [c for c in table.columns if c != "mean rank"]
        table.insert(len(tasks), "tasks", table[tasks].notna().sum(axis=1).astype(int))
        return table.rename_axis("model/method").reset_index().map(rank_text)

    @cached_property
    def labels(self) -> list[str]:
        """Model/method labels with a finished cell: best mean rank first, then by name."""
        present = sorted(self.done["label"].unique()) if not self.done.empty else []
        ranked = [lab for lab in self.ranks.index if lab in present] if not self.ranks.empty else []
        return ranked + [lab for lab in present if lab not in ranked]

    def labels_by_main(self, task: str) -> list[str]:
        """The task's labels ordered best first by its main metric (unmeasured last)."""
        sub = self.done[self.done["task"] == task]
        metric = self.main_metric(task)
        present = [lab for lab in self.labels if lab in set(sub["label"])]
        if metric is None:
            return present
        table = self.means(metric)
        if task not in table:
            return present
        means = table[task].dropna()
        higher = self.directions.get(metric) == "higher"
        order = means.sort_values(ascending=not higher, kind="stable").index.tolist()
        return order + [lab for lab in present if lab not in order]

    @cached_property
    def palette(self) -> dict[str, Any]:
        """One colour per label, the same in every figure."""
        import seaborn as sns

        n = len(self.labels)
        colours = sns.color_palette("colorblind" if n <= 10 else "husl", max(n, 1))
        return dict(zip(self.labels, colours))

    def artifacts(self, task: str, label: str) -> dict[str, Any] | None:
        """The saved arrays of the first finished cell of (task, label) that has any."""
        key = (task, label)
        if key not in self._artifacts:
            self._artifacts[key] = None
            cells = self.df[(self.df["task"] == task) & (self.df["label"] == label)].sort_values("rep")
            for cell_id in cells["cell_id"]:
                arrays = load_artifacts(self.run_dir, cell_id)
                if arrays:
                    self._artifacts[key] = arrays
                    break
        return self._artifacts[key]

    def run_seconds(self) -> float | None:
        """Wall time of the run from run.json (start to end), if it finished."""
        from datetime import datetime

        try:
            t0 = datetime.fromisoformat(self.meta["started"])
            t1 = datetime.fromisoformat(self.meta["ended"])
        except (KeyError, TypeError, ValueError):
            return None
        seconds = (t1 - t0).total_seconds()
        return seconds if math.isfinite(seconds) else None


def load_run(run_dir: Path) -> RunData:
    run_dir = Path(run_dir)
    return RunData(run_dir, load_meta(run_dir), load_results(run_dir), load_curves(run_dir))
