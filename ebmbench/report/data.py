"""What every part of the report reads: one run's rows, curves, metadata and arrays.

Loaded once per report through ebmbench.results, so figures and tables agree on
which metrics exist, which way each is better, and the order of the methods.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ebmbench.contracts import CORE_CURVES, PROBE_PREFIX
from ebmbench.results.runs import load_artifacts, load_curves, load_meta, load_results

__all__ = [
    "Overall",
    "RunData",
    "direction_label",
    "entry_metadata",
    "load_run",
    "method_families",
    "negative_note",
    "param_value",
    "rank_text",
]

WORDS = {"higher": "higher is better ↑", "lower": "lower is better ↓"}
# colour ramps per method family (contracts.METHOD_FAMILIES; seaborn's perceptually uniform
# ramps, told apart by hue); a family outside them (an old run's) takes the next of EXTRA_RAMPS
RAMPS = {"contrastive": "crest", "architectural": "flare", "baseline": "Greys"}
EXTRA_RAMPS = ("RdPu", "YlOrBr", "PuBu", "BuGn")
MARKERS = "os^Dv<>pPXh*d8H"  # one per method within a family, in order of first appearance
# run.json records these per entry (registry.report_metadata) since it records the first;
# a run without it predates them all, and the installed plugins are asked instead
METADATA_MARKER = ("models", "inverse_temperature_param")


def direction_label(metric: str, direction: str | None, sep: str = " ") -> str:
    """Axis label naming the metric and which way is better."""
    return f"{metric}{sep}({WORDS.get(direction or 'none', 'not ranked')})"


def rank_text(v) -> str:
    """A rank for a table: two decimals, or a dash where the method did not run."""
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".") if math.isfinite(v) else "—"
    return str(v)


def _recorded(meta: dict, kind: str) -> dict[str, dict]:
    return ((meta or {}).get("entries") or {}).get(kind) or {}


def entry_metadata(meta: dict, kind: str, names, field: str, default: Any = None) -> dict[str, Any]:
    """`field` of each entry `name` of `kind` as its class declares it (registry.report_metadata),
    by the first source that knows it: the run's own record (run.json entries), else the
    installed registry when the entry there comes from the same plugin as in the run
    (runs recorded before the field existed), else `default`. Never guessed from a name."""
    recorded = _recorded(meta, kind)
    # a run that records the metadata leaves a field out where the class declares nothing
    # (a method's family has been recorded longer: absent, it is looked up)
    complete = field != "family" and any(METADATA_MARKER[1] in e for e in _recorded(meta, METADATA_MARKER[0]).values())
    unknown = [n for n in names if (recorded.get(n) or {}).get(field) is None and not complete]
    live = _registry_metadata().get(kind, {}) if unknown else {}  # the plugins (and their torch) only then
    out = {}
    for name in names:
        entry = recorded.get(name) or {}
        plugin = entry.get("plugin")
        if entry.get(field) is not None:
            out[name] = entry[field]
        elif not complete and name in live and (plugin is None or live[name].get("plugin") == plugin):
            out[name] = live[name].get(field, default)
        else:
            out[name] = default
    return out


def method_families(meta: dict, methods) -> dict[str, str]:
    """Family of each method name ("contrastive", "architectural", "baseline", ...):
    entry_metadata, else the providing plugin's module ("methods.margin" -> "margin") — a
    finer family, still one hue — else "other"."""
    found = entry_metadata(meta, "methods", list(methods), "family")
    recorded = _recorded(meta, "methods")
    out = {}
    for name in methods:
        plugin = (recorded.get(name) or {}).get("plugin")
        out[name] = str(found[name] or (str(plugin).rsplit(".", 1)[-1] if plugin else "other"))
    return out


@functools.lru_cache(maxsize=1)
def _registry_metadata() -> dict[str, dict[str, dict]]:
    """{kind: {name: report metadata + plugin}} of the installed catalog; empty if it cannot
    load. Loading it costs ~0.3 s, so the report does it once per process and hands what
    it found to its workers (RunData.known)."""
    try:
        from ebmbench.registry import load_registry, report_metadata

        entries = load_registry().entries
        return {
            kind: {n: {**report_metadata(kind, e.cls), "plugin": e.plugin} for n, e in by_name.items()}
            for kind, by_name in entries.items()
        }
    except Exception:  # a report must not depend on the plugins of today
        return {}


def negative_note(metric: str, labels) -> str:
    """The sentence a reader needs where an unbiased estimator came out below zero."""
    name = metric
    shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
    return (
        f"{metric} < 0 for {shown}: the unbiased {name} estimator scatters around the true value, so it "
        f"can fall below zero when the model's samples are as close to the data as its noise can tell; "
        f"read these as {name} ≈ 0, not as better than zero."
    )


@dataclass
class Overall:
    """Ranks across tasks (summary.rank_table, the same table `ebmbench show` prints):
    `table` has "tasks" (how many tasks each method was ranked on), "mean rank" over
    those tasks, then the rank on each task; rows go by coverage first, so a method that
    won the one task it ran does not head the list. `common`: the tasks every ranked
    method ran (the figure marks them)."""

    table: Any
    common: list[str]

    @property
    def heading(self) -> str:
        n = len(self.table.columns) - 2
        if n > 0 and len(self.common) == n:
            return f"mean rank over all {n} tasks"
        return "mean rank over the tasks each ran (tasks: how many), most tasks first"


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

    @cached_property
    def measured(self) -> dict[str, list[str]]:
        """The metrics with a value in a finished cell, per task (one groupby: main_metric is
        asked for often, and filtering the frame per metric and call cost seconds)."""
        if self.done.empty or not self.metrics:
            return {}
        counts = self.done.groupby("task")[self.metrics].count()
        return {task: [m for m in self.metrics if row[m] > 0] for task, row in counts.iterrows()}

    def main_metric(self, task: str) -> str | None:
        """The task's main metric if it was measured, else its first measured metric."""
        main = (self.meta.get("main_metrics") or {}).get(task)
        measured = self.measured.get(task, [])
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

    def interval(self, task: str | None = None, metric: str | None = None) -> str:
        """The words for the intervals shown (summary.interval_heading) over the run, one
        task or one metric: "mean ± 95 % t-interval over 2 seeds", "1 seed (n = 1, no
        interval)" — never a promise of an interval the numbers lack."""
        from ebmbench.summary import interval_heading

        a = self.agg
        if task is not None:
            a = a[a["task"] == task]
        if metric is not None:
            a = a[a["metric"] == metric]
        return interval_heading(a)

    def means(self, metric: str):
        """Methods x tasks table of one metric's means (summary.pivot's numeric form)."""
        a = self.agg[self.agg["metric"] == metric]
        return a.pivot(index="label", columns="task", values="mean")

    def leaderboard(self, task: str):
        """summary.leaderboards' table of the task by its main metric, or None without one
        (all tasks at once from `agg`, cached: HTML and Markdown share them)."""
        from ebmbench.summary import floor_labels, leaderboards

        if not self._leaderboards:
            mains = {t: m for t in self.tasks if (m := self.main_metric(t))}
            metrics = {t: self.metrics for t in mains}
            floors = floor_labels(self.df, self.meta)
            self._leaderboards.update(
                leaderboards(self.df, mains, self.directions, metrics, agg=self.agg, floors=floors)
            )
        return self._leaderboards.get(task)

    @cached_property
    def ranks(self):
        """summary.ranks over the tasks' main metrics (methods x tasks, plus mean rank)."""
        from ebmbench.summary import ranks

        if self.done.empty:
            import pandas as pd

            return pd.DataFrame()
        mains = {t: self.main_metric(t) for t in self.tasks}
        return ranks(self.df, self.directions, {t: m for t, m in mains.items() if m})

    @cached_property
    def overall(self) -> Overall:
        """The ranks across tasks, honest about coverage (see Overall)."""
        from ebmbench.summary import rank_table

        if self.done.empty:
            import pandas as pd

            return Overall(pd.DataFrame(), [])
        mains = {t: m for t in self.tasks if (m := self.main_metric(t))}
        table = rank_table(self.df, self.directions, mains)
        per_task = table.drop(columns=["tasks", "mean rank"]) if not table.empty else table
        return Overall(table, [t for t in per_task.columns if per_task[t].notna().all()])

    def rank_table(self):
        """The ranks as display strings: the number of tasks each method was ranked on (a
        mean rank over one task is not a mean rank over twelve) and the overall rank first,
        where a wide table does not scroll them away, then the rank on each task."""
        table = self.overall.table
        if table.empty:
            return table
        table = table[["tasks", "mean rank", *[c for c in table.columns if c not in ("tasks", "mean rank")]]]
        return table.rename_axis("model/method").reset_index().map(rank_text)

    @cached_property
    def labels(self) -> list[str]:
        """Model/method labels with a finished cell: best overall rank first (Overall), then by name."""
        present = sorted(self.done["label"].unique()) if not self.done.empty else []
        order = self.overall.table.index if not self.overall.table.empty else []
        ranked = [lab for lab in order if lab in present]
        return ranked + [lab for lab in present if lab not in ranked]

    @cached_property
    def label_methods(self) -> dict[str, str]:
        """The method (without parameters) of each label."""
        rows = self.df.drop_duplicates("label") if not self.df.empty else self.df
        return {r.label: str(r.method).split("[")[0] for r in rows.itertuples(index=False)}

    @cached_property
    def families(self) -> dict[str, str]:
        """Family of each method (method_families); the report's workers receive it ready."""
        return method_families(self.meta, sorted(set(self.label_methods.values())))

    @cached_property
    def headlines(self) -> dict[str, tuple[str, ...]]:
        """task -> the headline metrics it declares (show.headline_metrics: run.json, else
        the plugins), kept to those measured here."""
        from ebmbench.show import headline_metrics

        declared = headline_metrics(self.meta, self.tasks)
        return {t: tuple(m for m in declared.get(t, ()) if m in self.measured.get(t, [])) for t in self.tasks}

    @cached_property
    def unbiased(self) -> list[str]:
        """The measured metrics that are unbiased estimates of a quantity >= 0 (the metric
        declares `unbiased_nonnegative`): a mean below 0 gets a note, not a cheer."""
        flags = entry_metadata(self.meta, "metrics", self.metrics, "unbiased_nonnegative", False)
        return [m for m in self.metrics if flags[m]]

    @cached_property
    def sampling_cost(self) -> str | None:
        """The measured metric that is the evaluation sampler's energy-gradient evaluations per
        sample (it declares `sampling_cost_per_sample`), if any: the cost figure adds it."""
        # any metric column, ranked or not, that run.json knows of
        known = dict.fromkeys([*self.directions, *_recorded(self.meta, "metrics")])
        names = [m for m in known if not self.df.empty and m in self.df.columns]
        flags = entry_metadata(self.meta, "metrics", names, "sampling_cost_per_sample", False)
        return next((m for m in names if flags[m]), None)

    @cached_property
    def temperature_params(self) -> dict[str, dict[str, str]]:
        """{"models"|"methods": {entry name: its inverse-temperature parameter}} for the
        entries of this run that declare one (`inverse_temperature_param`): the Fβ sweep."""
        out = {}
        for kind, column in (("models", "model"), ("methods", "method")):
            names = sorted({str(v).split("[")[0] for v in self.df[column].dropna()}) if not self.df.empty else []
            found = entry_metadata(self.meta, kind, names, "inverse_temperature_param")
            out[kind] = {n: str(p) for n, p in found.items() if p}
        return out

    @cached_property
    def curve_probes(self) -> list[str]:
        """The curves of the curve-probe metrics (`val_<metric>`), in the run's order: the
        metrics run.json says were probed (`grid.curve_metrics`), else, for a run that
        does not record them, the curves named after one of the run's metric columns."""
        recorded = (self.meta.get("grid") or {}).get("curve_metrics")
        if recorded is not None:
            return [PROBE_PREFIX + str(m) for m in recorded]
        names = sorted(set(self.curves["name"])) if not self.curves.empty else []
        return [n for n in names if n.startswith(PROBE_PREFIX) and n[len(PROBE_PREFIX) :] in self.df.columns]

    @property
    def core_curves(self) -> list[str]:
        """The large panels of the training curves: held-out probes, then the quantities every
        method logs with one meaning (contracts.CORE_CURVES)."""
        return [*self.curve_probes, *CORE_CURVES]

    def image_shape(self, task: str, arrays: dict[str, Any]) -> tuple[int, int]:
        """(rows, cols) of a task's images: as the task declares it (run.json), else as the
        cell's saved arrays say."""
        declared = (_recorded(self.meta, "tasks").get(task.split("[")[0]) or {}).get("image_shape")
        return tuple(int(v) for v in (declared or arrays["image_shape"]))

    def known(self) -> dict[str, Any]:
        """What a figure worker would otherwise load the plugin registry for."""
        return {
            "families": self.families,
            "headlines": self.headlines,
            "unbiased": self.unbiased,
            "sampling_cost": self.sampling_cost,
            "temperature_params": self.temperature_params,
        }

    def family(self, label: str) -> str:
        return self.families.get(self.label_methods.get(label, ""), "other")

    @cached_property
    def family_order(self) -> list[str]:
        """Families of the labels: contrastive, architectural, then the others by name."""
        present = {self.family(lab) for lab in self.labels}
        return [f for f in RAMPS if f in present] + sorted(present - set(RAMPS))

    def negatives(self, metric: str, task: str | None = None) -> list[str]:
        """Labels whose mean of an unbiased metric is below zero (on one task, or any)."""
        if metric not in self.unbiased or self.agg.empty:
            return []
        a = self.agg[(self.agg["metric"] == metric) & (self.agg["mean"] < 0)]
        if task is not None:
            a = a[a["task"] == task]
        return list(dict.fromkeys(a["label"]))

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
        """One colour per label, the same in every figure: the hue says the family (a ramp
        per family), the shade within it the label. Twenty hues cannot be told apart;
        two or three families can, and `markers` tell the methods within one apart."""
        import itertools

        import numpy as np

        from ebmbench.report.style import colormap

        extra = itertools.cycle(EXTRA_RAMPS)
        out = {}
        for family in self.family_order:
            labels = [lab for lab in self.labels if self.family(lab) == family]
            cmap = colormap(RAMPS.get(family) or next(extra))
            lo, hi = (0.25, 0.95) if family in RAMPS else (0.45, 0.9)
            points = np.linspace(lo, hi, len(labels)) if len(labels) > 1 else [0.65]
            out.update({lab: tuple(cmap(float(p))[:3]) for lab, p in zip(labels, points)})
        return out

    @cached_property
    def markers(self) -> dict[str, str]:
        """One marker per method within its family (labels of one method share it)."""
        out, by_family = {}, {}
        for lab in self.labels:
            seen = by_family.setdefault(self.family(lab), {})
            method = self.label_methods.get(lab, lab)
            seen.setdefault(method, MARKERS[len(seen) % len(MARKERS)])
            out[lab] = seen[method]
        return out

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
