"""Several runs read as one: `ebmbench show RUN1 RUN2 ...`.

A grid is often measured in pieces — extra seeds of the two best methods in a second
run, baselines in a run of their own with fewer metrics, a method added later — and a
reader wants them in one table, with the intervals over all their seeds. The rows are
concatenated and the run records merged:

* a cell measured in more than one of the runs (same task, model/method, seed and data
  seed: e.g. reused from the cache, or the same grid run twice) counts once — the row
  of the last run named wins, as a later part file wins within a run;
* each metric keeps its direction (the runs must agree on it: a metric that is "lower"
  in one run and "higher" in another is an error, never silently one of them);
* a task's main and headline metrics come from the first run that records them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ebmbench.errors import UsageError
from ebmbench.results.runs import load_meta, load_results

__all__ = ["SAME_CELL", "load_runs", "merge_meta"]

# the columns that say two rows measured the same cell (the cell id is per run)
SAME_CELL = ("task", "label", "seed", "data_seed")


def _union(metas: list[dict[str, Any]], key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for meta in metas:
        for name, value in (meta.get(key) or {}).items():
            out.setdefault(name, value)
    return out


def merge_meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """One run record for the tables from the records of several runs (module doc)."""
    if len(metas) == 1:
        return metas[0]
    directions: dict[str, str] = {}
    for meta in metas:
        for metric, direction in (meta.get("metric_directions") or {}).items():
            if directions.setdefault(metric, direction) != direction:
                raise UsageError(
                    f"runs disagree on the direction of {metric!r} ({directions[metric]} in one, "
                    f"{direction} in {meta['run_id']}): show them one at a time"
                )
    profiles = dict.fromkeys((m.get("profile") or {}).get("name", "?") for m in metas)
    statuses = dict.fromkeys(str(m.get("status", "?")) for m in metas)
    merged = {
        "run_id": " + ".join(m["run_id"] for m in metas),
        "runs": [m["run_id"] for m in metas],
        "status": "/".join(statuses),
        "profile": {"name": "/".join(profiles)},
        "n_cells": sum(int(m.get("n_cells") or 0) for m in metas),
        "metric_directions": directions,
        "main_metrics": _union(metas, "main_metrics"),
        # the headline columns are looked up from the plugins when a run lacks them
        "entries": {"tasks": _union([m.get("entries") or {} for m in metas], "tasks")},
        "plugins": [p for m in metas for p in m.get("plugins") or []],
    }
    if all(isinstance(m.get("headline_metrics"), dict) for m in metas):
        merged["headline_metrics"] = _union(metas, "headline_metrics")
    return merged


def load_runs(run_dirs: list[Path], columns: tuple[str, ...] = ()) -> tuple[dict[str, Any], Any]:
    """(merged run record, rows) of the runs in `run_dirs`, read with `columns` plus the
    metrics (all columns when `columns` is empty). A run named twice is read once."""
    import pandas as pd

    run_dirs = list(dict.fromkeys(Path(d).resolve() for d in run_dirs))
    metas = [load_meta(d) for d in run_dirs]
    meta = merge_meta(metas)
    wanted = [*dict.fromkeys([*columns, *SAME_CELL, *(meta.get("metric_directions") or {})])] if columns else None
    frames = [load_results(d, wanted) for d in run_dirs]
    if len(frames) == 1:
        return meta, frames[0]
    frames = [f for f in frames if len(f)]
    if not frames:
        return meta, pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    keys = [c for c in SAME_CELL if c in df]
    # a skipped pair is not a measurement: only the same pair skipped twice is one row
    skipped = df["status"].eq("skipped") if "status" in df else False
    repeated = df.assign(_skipped=skipped).duplicated(subset=[*keys, "_skipped"], keep="last")
    return meta, df[~repeated].reset_index(drop=True)
