"""Baseline files: a run's compared values, small enough to commit and review in a diff.

`ebmbench baseline save RUN --name NAME` writes `results/baselines/NAME.json`: per cell
and seed the values of the compared metrics (each task's main metric unless told
otherwise) and the status, plus what decides whether two runs can be compared at all —
profile, suite, versions and the source hashes of the plugins the cells used. One cell
per line, keys sorted, so a new baseline reads as a diff of the numbers that moved.

`compare` accepts a baseline file wherever it accepts a run: `load_side` turns any of a
run folder, a run id, a results parquet or a baseline file into (rows, meta).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ebmbench.errors import UsageError, unknown_name
from ebmbench.results.runs import CorruptRun, find_run, load_meta, read_results

__all__ = ["BASELINE_FORMAT", "build_baseline", "write_baseline", "read_baseline", "load_side", "Side"]

BASELINE_FORMAT = 1
# what a baseline keeps of each cell besides its metric values
# (the training seed is left out: it follows from the rest, and pairing needs data_seed)
_CELL_COLUMNS = ("task", "label", "rep", "data_seed", "model_params", "method_params", "profile", "status", "reason")
_KINDS = ("tasks", "models", "methods", "samplers", "metrics")


class Side:
    """One side of a comparison: its rows (one per cell) and its metadata."""

    def __init__(self, rows: pd.DataFrame, meta: dict[str, Any], name: str):
        self.rows, self.meta, self.name = rows, meta, name


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars to Python, NaN to null (JSON has no NaN)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _float(value: Any) -> float:
    if isinstance(value, str):
        return float(value)  # "inf", "-inf"
    return math.nan if value is None else float(value)


def build_baseline(rows: pd.DataFrame, meta: dict[str, Any], name: str, metrics: list[str] | None = None) -> dict:
    """The baseline document of one run's `rows`; `metrics` default to each task's main metric
    (and the suite's own compared metrics, if it names any)."""
    main = meta.get("main_metrics") or {}
    directions = meta.get("metric_directions") or {}
    if not len(rows) or "task" not in rows.columns:  # a run that stored no cell
        rows = pd.DataFrame(columns=["task", "label", "rep", "status"])
    rows = rows[rows["status"] != "skipped"]
    tasks = sorted(rows["task"].unique())
    if metrics:
        for m in metrics:
            if m not in directions:
                raise unknown_name("metrics", m, directions)
        wanted = {t: list(metrics) for t in tasks}
    else:
        suite_metrics = list((meta.get("suite") or {}).get("metrics") or [])
        wanted = {t: [m for m in [main.get(t), *suite_metrics] if m] for t in tasks}
    used_metrics = sorted({m for ms in wanted.values() for m in ms})
    status_only = set((meta.get("suite") or {}).get("status_only") or ())
    cells = []
    for record in rows.sort_values(["task", "label", "rep"]).to_dict("records"):
        cell = {c: _plain(record.get(c)) for c in _CELL_COLUMNS if c in record}
        if cell.get("reason") is not None:
            cell["reason"] = str(cell["reason"]).splitlines()[0][:200]
        judged = f"{record['task']} {record['label']}" not in status_only
        cell["values"] = {
            m: _plain(record[m]) for m in wanted[record["task"]] if judged and m in record and not _missing(record[m])
        }
        cells.append(cell)
    entries = meta.get("entries") or {}
    names = {
        "tasks": set(tasks),
        "models": {c["label"].split("/", 1)[0].split("[", 1)[0] for c in cells},
        "methods": {c["label"].split("/", 1)[1].split("[", 1)[0] for c in cells if "/" in c["label"]},
        "samplers": set(entries.get("samplers") or {}),
        "metrics": set(used_metrics),
    }
    return {
        "ebmbench_baseline": BASELINE_FORMAT,
        "name": name,
        "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_id": meta.get("run_id"),
        "suite": meta.get("suite"),
        "profile": (meta.get("profile") or {}).get("name") if isinstance(meta.get("profile"), dict) else None,
        "base_seed": meta.get("base_seed"),
        "versions": {
            "ebmbench": meta.get("ebmbench_version"),
            "torch": meta.get("torch"),
            "python": meta.get("python"),
            "git_commit": meta.get("ebmbench_git_commit") or meta.get("git_commit"),
        },
        "main_metrics": {t: main[t] for t in tasks if t in main},
        "metric_directions": {m: directions.get(m, "none") for m in used_metrics},
        "metric_tolerances": {m: t for m, t in (meta.get("metric_tolerances") or {}).items() if m in used_metrics},
        # name -> source hash, per kind: what tells a code change from a changed setting
        "source_hashes": {
            kind: {
                n: (entries.get(kind) or {})[n].get("source_hash")
                for n in sorted(names[kind])
                if n in (entries.get(kind) or {})
            }
            for kind in _KINDS
        },
        "cells": cells,
    }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def write_baseline(doc: dict, path: Path) -> Path:
    """Write `doc` with one cell per line (reviewable diffs); returns the path."""
    head = {k: v for k, v in doc.items() if k != "cells"}
    text = json.dumps(head, indent=2, sort_keys=True)[:-2]  # drop the closing "\n}"
    lines = [json.dumps(c, sort_keys=True) for c in doc["cells"]]
    text += ',\n  "cells": [\n    ' + ",\n    ".join(lines) + ("\n  ]\n}\n" if lines else "]\n}\n")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        raise UsageError(f"cannot write baseline {path}: {exc.strerror or exc}") from None
    return path


def read_baseline(path: Path) -> Side:
    """A baseline file as rows (one per cell and seed) and a run-like meta."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read baseline {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("ebmbench_baseline") != BASELINE_FORMAT or "cells" not in doc:
        raise UsageError(f"{path} is not an ebmbench baseline file (format {BASELINE_FORMAT})")
    try:
        rows = _rows(doc["cells"])
        meta = _meta(doc)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise UsageError(f"{path}: damaged baseline file ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    return Side(rows, meta, f"baseline {doc.get('name') or Path(path).stem}")


def _rows(cells: list) -> pd.DataFrame:
    if not isinstance(cells, list):
        raise TypeError(f"'cells' must be a list, got {type(cells).__name__}")
    records = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or not {"task", "label", "rep", "status"} <= set(cell):
            raise ValueError(f"cells[{i}] must be an object with task, label, rep and status")
        values = cell.get("values") or {}
        if not isinstance(values, dict):
            raise TypeError(f"cells[{i}].values must be an object")
        record = {k: v for k, v in cell.items() if k != "values"}
        record.update({m: _float(v) for m, v in values.items()})
        records.append(record)
    return pd.DataFrame.from_records(records)


def _meta(doc: dict) -> dict[str, Any]:
    return {
        "run_id": doc.get("run_id"),
        "baseline": doc.get("name"),
        "suite": doc.get("suite"),
        "main_metrics": doc.get("main_metrics") or {},
        "metric_directions": doc.get("metric_directions") or {},
        "metric_tolerances": doc.get("metric_tolerances") or {},
        "entries": {
            kind: {n: {"source_hash": h} for n, h in hashes.items()}
            for kind, hashes in (doc.get("source_hashes") or {}).items()
        },
        "versions": doc.get("versions") or {},
        "base_seed": doc.get("base_seed"),
    }


def load_side(text: str, root: Path, warn: Callable[[str], None] | None = None) -> Side:
    """A run folder, a run id under `root`, a results .parquet or a baseline .json."""
    path = Path(text)
    if path.suffix == ".json" and path.is_file():
        return read_baseline(path)
    if path.suffix == ".parquet" and path.is_file():
        meta = load_meta(path.parent) if (path.parent / "run.json").is_file() else {}
        try:
            rows = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise CorruptRun(f"cannot read {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
        return Side(rows, meta, str(path))
    if path.is_dir() and (path / "run.json").is_file():
        run_dir = path
    elif path.suffix in (".json", ".parquet"):
        raise UsageError(f"{text}: no such file")
    else:
        run_dir = find_run(root, text, warn)
    meta = load_meta(run_dir)
    return Side(read_results(run_dir), meta, f"run {run_dir.name}")
