"""Every stored run's numbers in one long table, for `ebmbench history`: one row per
(run, cell, metric) with the value of that seed and the run's provenance (commit,
start time, versions, profile, suite).

The result files of all runs are queried as ONE `pyarrow.dataset`: the `done` and task
filters and the column projection are pushed into the scan, so only the rows and
columns asked for are decoded, however many runs the root holds. Runs add metric
columns over time, so the dataset is given the union of every file's schema (a column
a file lacks reads as null). A run folder is read as `ebmbench.results.runs` reads it:
its compacted `results.parquet`, or its part files while it runs or after it was
killed, a later file's row of a cell replacing an earlier one.

A run whose run.json or parquet files cannot be read is skipped with one warning line,
never fatal: one torn file must not hide the history of the others.

The mean and confidence interval over seeds are computed by the presentation layer
(`ebmbench.report.history.gather_history`, with `ebmbench.summary`), which this layer
may not import; this module returns the per-seed values they are computed from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ebmbench.errors import unknown_name
from ebmbench.results.runs import CorruptRun, list_runs, load_meta
from ebmbench.results.schema import CORE_COLUMNS

__all__ = [
    "COST_COLUMNS",
    "PROVENANCE_COLUMNS",
    "VALUE_COLUMNS",
    "gather_values",
    "results_files",
    "run_provenance",
]

# what a history row says about the run it comes from, in this order
PROVENANCE_COLUMNS = (
    "run_id",
    "started",  # pandas Timestamp (UTC): the history's time axis
    "commit",  # ebmbench's source commit (else the working directory's), None outside git
    "dirty",  # uncommitted changes at that commit, when run.json records it (else None)
    "ebmbench_version",
    "torch_version",
    "profile",
    "suite",  # the suite the run was started with (`run --suite`), None for others
    "run_status",
)
VALUE_COLUMNS = (*PROVENANCE_COLUMNS, "task", "label", "metric", "rep", "seed", "cell_id", "cached", "value")

# core columns that are numbers worth following over commits when asked for by name
# (a slower commit is a regression too); never picked by default
COST_COLUMNS = ("train_time_s", "eval_time_s", "wall_time_s", "peak_mem_mb", "grad_evals")

_KEYS = ("task", "label", "cell_id", "rep", "seed", "cached_from")
_FILE = "__filename"  # pyarrow's special field: the file each scanned row came from


def results_files(run_dir: Path) -> list[Path]:
    """A run's row files in the order `runs.read_results` reads them (a later file's row
    of a cell wins): results.parquet, then batch parts, then each cell's own part."""
    run_dir = Path(run_dir)
    files = [run_dir / "results.parquet"] if (run_dir / "results.parquet").exists() else []
    parts = run_dir / "parts"
    if parts.is_dir():
        names = sorted(p for p in parts.glob("*.parquet") if not p.name.endswith(".curves.parquet"))
        names.sort(key=lambda p: not p.name.startswith("batch-"))
        files.extend(names)
    return files


def _started(meta: dict[str, Any]):
    """When the run started: run.json's `started` (or `created`), else the time in its id."""
    import pandas as pd

    for key in ("started", "created"):
        stamp = pd.to_datetime(meta.get(key), utc=True, errors="coerce")
        if stamp is not None and not pd.isna(stamp):
            return stamp
    stamp = pd.to_datetime(str(meta.get("run_id", ""))[:15], format="%Y%m%d-%H%M%S", utc=True, errors="coerce")
    return None if pd.isna(stamp) else stamp


def _suite_name(suite: Any) -> str | None:
    """The grid records the suite's name; the run's top level its whole definition."""
    if isinstance(suite, dict):
        suite = suite.get("name")
    return str(suite) if suite else None


def run_provenance(meta: dict[str, Any]) -> dict[str, Any]:
    """The PROVENANCE_COLUMNS of one run, from its run.json (fields absent in older runs are None)."""
    profile = meta.get("profile")
    grid = meta.get("grid") if isinstance(meta.get("grid"), dict) else {}
    return {
        "run_id": str(meta["run_id"]),
        "started": _started(meta),
        # the history follows the benchmark's own code: its checkout, not wherever it was run from
        "commit": meta.get("ebmbench_git_commit") or meta.get("git_commit"),
        "dirty": meta.get("ebmbench_git_dirty", meta.get("git_dirty")),
        "ebmbench_version": meta.get("ebmbench_version"),
        "torch_version": meta.get("torch"),
        "profile": profile.get("name") if isinstance(profile, dict) else profile,
        "suite": _suite_name(grid.get("suite") or meta.get("suite")),
        "run_status": meta.get("status"),
    }


@dataclass
class _Run:
    meta: dict[str, Any]
    files: list[Path]
    schemas: list[Any] = field(default_factory=list)


def _short(exc: BaseException) -> str:
    """One printable line (pyarrow's messages can quote the torn bytes themselves)."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return "".join(ch if ch.isprintable() else "?" for ch in text).strip()


def _readable_runs(root: Path, warn: Callable[[str], None]) -> list[_Run]:
    """Runs whose run.json and parquet footers can be read; the others are warned about.

    The footers are read through the dataset API (each fragment's physical schema):
    the union schema needs them anyway, and a torn file is pinned on its run here,
    before the scan."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    runs = []
    for run_dir in list_runs(root, warn):
        try:
            meta = load_meta(run_dir)
        except CorruptRun as exc:  # changed since list_runs looked at it
            warn(f"skipping {exc}")
            continue
        runs.append(_Run(meta, results_files(run_dir)))
    files = [str(p) for run in runs for p in run.files]
    if not files:
        return runs
    owner = {str(p): run for run in runs for p in run.files}
    bad: dict[int, str] = {}
    # an empty schema: no file is opened until its fragment is asked for its own
    for fragment in ds.dataset(files, format="parquet", schema=pa.schema([])).get_fragments():
        run = owner[fragment.path]
        try:
            run.schemas.append(fragment.physical_schema)
        except (pa.ArrowException, OSError, ValueError) as exc:
            name = Path(fragment.path).name
            bad.setdefault(id(run), f"skipping run {run.meta['run_id']}: cannot read {name} ({_short(exc)})")
    for run in runs:
        if id(run) in bad:
            warn(bad[id(run)])
    return [run for run in runs if id(run) not in bad]


def _unify(runs: list[_Run], warn: Callable[[str], None]) -> tuple[Any, list[_Run]]:
    """The union of every file's schema, and the runs that fit it.

    "permissive": a metric stored as int by one run and float by another reads as float.
    A column no promotion reconciles (numbers in one run, text in another) is a fault of
    one run, so the runs are then added one at a time and the misfits skipped."""
    import pyarrow as pa

    try:
        schemas = [s for run in runs for s in run.schemas]
        return (pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])), runs
    except (pa.ArrowException, TypeError, ValueError):
        pass
    schema, kept = pa.schema([]), []
    for run in runs:
        try:
            schema = pa.unify_schemas([schema, *run.schemas], promote_options="permissive")
            kept.append(run)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            warn(f"skipping run {run.meta['run_id']}: its columns do not match the other runs' ({_short(exc)})")
    return schema, kept


def _metric_columns(schema) -> list[str]:
    """Numeric columns that are not core columns: the metrics stored by some run."""
    import pyarrow.types as pt

    return [
        f.name
        for f in schema
        if f.name not in CORE_COLUMNS
        and not f.name.startswith("__")
        and (pt.is_floating(f.type) or pt.is_integer(f.type))
    ]


def _scan(files: list[str], schema, columns: list[str], done_only: bool, tasks: list[str] | None):
    import pyarrow.dataset as ds

    predicate = None
    if done_only:
        predicate = ds.field("status") == "done"
    if tasks is not None:
        by_task = ds.field("task").isin(tasks)
        predicate = by_task if predicate is None else predicate & by_task
    dataset = ds.dataset(files, format="parquet", schema=schema)
    return dataset.to_table(columns=[*columns, _FILE], filter=predicate).to_pandas()


def _scan_runs(runs: list[_Run], schema, columns, done_only, tasks, warn) -> tuple[Any, list[_Run]]:
    """One scan over every run; if a file's data turns out torn (its footer was fine),
    the runs are scanned one by one to skip only the run that holds it."""
    import pandas as pd
    import pyarrow as pa

    files = [str(p) for run in runs for p in run.files]
    try:
        return _scan(files, schema, columns, done_only, tasks), runs
    except (pa.ArrowException, OSError, ValueError):
        pass
    frames, kept = [], []
    for run in runs:
        try:
            frames.append(_scan([str(p) for p in run.files], schema, columns, done_only, tasks))
            kept.append(run)
        except (pa.ArrowException, OSError, ValueError) as exc:
            warn(f"skipping run {run.meta['run_id']}: cannot read its results ({_short(exc)})")
    frames = [f for f in frames if len(f)]
    empty = pd.DataFrame(columns=[*columns, _FILE])
    return (pd.concat(frames, ignore_index=True) if frames else empty), kept


def _superseded(runs: list[_Run], schema, tasks, warn):
    """(file, cell_id) of done rows that a later file of the same run replaces.

    Only runs with several files can hold a cell twice (a resumed run's compacted file
    and its new parts, or a cell's batch row and its own part); their key columns alone
    are scanned, every status included: a later row wins even when it is not done."""
    import pandas as pd

    multi = [run for run in runs if len(run.files) > 1]
    if not multi:
        return set()
    keys, _ = _scan_runs(multi, schema, ["cell_id", "status"], False, tasks, warn)
    if keys.empty:
        return set()
    rank = {str(p): (i, k) for i, run in enumerate(multi) for k, p in enumerate(run.files)}
    order = pd.DataFrame([rank[f] for f in keys[_FILE]], columns=["run", "rank"], index=keys.index)
    keys = pd.concat([keys, order], axis=1).sort_values(["run", "rank"], kind="stable")
    lost = keys[keys.duplicated(["run", "cell_id"], keep="last") & (keys["status"] == "done")]
    return set(zip(lost[_FILE], lost["cell_id"]))


def _main_metrics(runs: list[_Run], main_metrics: dict[str, str] | None) -> dict[str, str]:
    """Each task's main metric: the caller's (the registry's), else the newest run's record
    of it (a task since removed from the registry keeps its history)."""
    found: dict[str, str] = {}
    for run in runs:  # oldest first: newer records overwrite
        recorded = run.meta.get("main_metrics")
        if isinstance(recorded, dict):
            found.update({str(k): str(v) for k, v in recorded.items() if v})
    return {**found, **(main_metrics or {})}


def _known_tasks(runs, schema, main_metrics, warn) -> set[str]:
    frame, _ = _scan_runs(runs, schema, ["task"], False, None, warn) if runs else (None, None)
    stored = set() if frame is None else {str(t) for t in frame["task"].dropna().unique()}
    return stored | set(main_metrics or {})


def _once(warn: Callable[[str], None] | None) -> Callable[[str], None]:
    """`warn`, saying each line once (a torn run can be met by two scans)."""
    seen: set[str] = set()

    def say(line: str) -> None:
        if warn is not None and line not in seen:
            seen.add(line)
            warn(line)

    return say


def _empty():
    import pandas as pd

    return pd.DataFrame(columns=list(VALUE_COLUMNS))


def gather_values(
    root: Path,
    tasks: Iterable[str] | None = None,
    metrics: Iterable[str] | None = None,
    warn: Callable[[str], None] | None = None,
    main_metrics: dict[str, str] | None = None,
):
    """Every done cell's metric values in every readable run under ROOT/runs, with provenance.

    One row per (run, cell, metric) with a stored value; columns VALUE_COLUMNS, oldest
    run first. `tasks` keeps only those tasks; `metrics` picks the metrics (any stored
    metric column, or a COST_COLUMNS entry). Without `metrics`, each task's main metric
    is used — `main_metrics` (task -> metric, from the registry) first, then the one the
    newest run recorded — and every stored metric only when `main_metrics` is None.
    An unknown task or metric raises UsageError with the closest known names.
    """
    import pandas as pd

    warn = _once(warn)
    tasks = None if tasks is None else list(dict.fromkeys(tasks))
    metrics = None if metrics is None else list(dict.fromkeys(metrics))
    runs = _readable_runs(Path(root), warn)
    schema, with_rows = _unify([run for run in runs if run.files], warn)
    stored_metrics = _metric_columns(schema)
    if metrics is not None:
        known = [*stored_metrics, *(c for c in COST_COLUMNS if c in schema.names)]
        for m in metrics:
            if m not in known:
                raise unknown_name("metrics", m, known)
    mains = _main_metrics(runs, main_metrics) if main_metrics is not None else None
    if metrics is not None:
        wanted = metrics
    elif mains is not None:
        wanted = [m for t, m in mains.items() if tasks is None or t in tasks]
        wanted = [m for m in dict.fromkeys(wanted) if m in schema.names]
    else:
        wanted = stored_metrics
    need = {"task", "label", "cell_id", "status"} - set(schema.names)
    if not with_rows or need:
        if tasks:
            _check_tasks(tasks, set(), runs, schema, main_metrics, warn)
        return _empty()

    superseded = _superseded(with_rows, schema, tasks, warn)
    columns = [c for c in _KEYS if c in schema.names] + wanted
    rows, kept = _scan_runs(with_rows, schema, columns, True, tasks, warn)
    if tasks:
        _check_tasks(tasks, set(rows["task"].dropna().unique()), kept, schema, main_metrics, warn)
    if superseded and len(rows):
        rows = rows[[(f, c) not in superseded for f, c in zip(rows[_FILE], rows["cell_id"])]]
    if rows.empty or not wanted:
        return _empty()

    run_of = {str(p): i for i, run in enumerate(kept) for p in run.files}
    rows = rows.assign(_run=rows[_FILE].map(run_of))
    for c in ("rep", "seed", "cached_from"):
        if c not in rows:
            rows[c] = None
    rows["cached"] = rows["cached_from"].notna()
    long = rows.melt(
        id_vars=["_run", "task", "label", "rep", "seed", "cell_id", "cached"],
        value_vars=wanted,
        var_name="metric",
        value_name="value",
    )
    long["value"] = pd.to_numeric(long["value"], errors="coerce").astype(float)
    long = long[long["value"].notna()]
    if metrics is None and mains is not None:  # each task's own main metric only
        long = long[[mains.get(t) == m for t, m in zip(long["task"], long["metric"])]]
    prov = pd.DataFrame([run_provenance(run.meta) for run in kept]).rename_axis("_run").reset_index()
    out = long.merge(prov, on="_run", how="left")
    out["_order"] = out["_run"]  # list_runs is oldest first by id; the start time refines it
    out["_t"] = out["started"].map(lambda t: t.timestamp() if t is not None and not pd.isna(t) else math.inf)
    out = out.sort_values(["_t", "_order", "task", "label", "metric", "rep"], kind="stable")
    return out[list(VALUE_COLUMNS)].reset_index(drop=True)


def _check_tasks(tasks, found: set[str], runs, schema, main_metrics, warn) -> None:
    """Raise for a requested task that no run stores and the registry does not know."""
    missing = [t for t in tasks if t not in found and t not in (main_metrics or {})]
    if not missing:
        return
    stored = [r for r in runs if r.files] if "task" in schema.names else []
    known = _known_tasks(stored, schema, main_metrics, warn)
    for t in missing:
        if t not in known:
            raise unknown_name("tasks", t, known)
