"""Reading runs: find a run folder, load its metadata, rows, curves and arrays, and
index every stored cell by its key (the cache).

A run's rows live in `results.parquet` once it is compacted and in `parts/` while it
runs (or if it was killed); readers merge both. A run whose files cannot be read
raises `CorruptRun` — one line naming the file — and searches over all runs skip it
with a warning instead of failing.

A run that says `running` is checked against the process that wrote it (`pid`,
`pid_start` and `host` in run.json): if that process is gone, the run is reported as
`interrupted` — a SIGKILL of the main process leaves no other trace.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Callable

from ebmbench.errors import UsageError, unknown_name
from ebmbench.results.schema import RunStatus

__all__ = [
    "CorruptRun",
    "find_run",
    "list_runs",
    "load_meta",
    "load_results",
    "load_curves",
    "load_artifacts",
    "read_results",
    "read_curves",
    "process_identity",
    "stale_reason",
    "index_done_cells",
    "past_wall_times",
]


class CorruptRun(UsageError):
    """A run folder whose run.json or parquet files cannot be read."""


# ------------------------------------------------------------------ liveness
def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of stat; comm may contain spaces


def process_identity() -> dict[str, Any]:
    """What run.json records about the process writing the run."""
    return {"pid": os.getpid(), "pid_start": _start_time(os.getpid()), "host": socket.gethostname()}


def stale_reason(meta: dict[str, Any]) -> str | None:
    """Why a run marked `running` is in fact dead, or None (alive, finished, or unknown host)."""
    if meta.get("status") != RunStatus.RUNNING or meta.get("host") != socket.gethostname():
        return None
    pid = meta.get("pid")
    if not isinstance(pid, int):
        return None
    if _start_time(pid) is None or (meta.get("pid_start") and _start_time(pid) != meta["pid_start"]):
        return f"its process ({pid}) is gone: killed without a chance to record it"
    return None


# ------------------------------------------------------------------ metadata
def load_meta(run_dir: Path) -> dict[str, Any]:
    """run.json; a dead `running` run reads as `interrupted` (with `stale` saying why)."""
    path = Path(run_dir) / "run.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptRun(f"run {Path(run_dir).name}: cannot read run.json ({_short(exc)})") from None
    if not isinstance(meta, dict) or "run_id" not in meta:
        raise CorruptRun(f"run {Path(run_dir).name}: run.json is not an ebmbench run record")
    reason = stale_reason(meta)
    if reason:
        meta = {**meta, "status": str(RunStatus.INTERRUPTED), "stale": reason}
    return meta


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def list_runs(root: Path, warn: Callable[[str], None] | None = None) -> list[Path]:
    """Run folders under ROOT/runs, oldest first; unreadable ones are skipped (and warned)."""
    runs_dir = Path(root) / "runs"
    if not runs_dir.is_dir():
        return []
    runs = []
    for path in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if not (path / "run.json").exists():
            continue
        try:
            load_meta(path)
            runs.append(path)
        except CorruptRun as exc:
            if warn:
                warn(f"skipping {exc}")
    return runs


def find_run(root: Path, run: str | None, warn: Callable[[str], None] | None = None) -> Path:
    """A run folder by id, id prefix or path; the latest readable run when `run` is None."""
    if run and Path(run).is_dir() and (Path(run) / "run.json").exists():
        return Path(run)
    runs_dir = Path(root) / "runs"
    if run is None:
        for path in reversed(list_runs(root, warn)):
            try:
                read_results(path, columns=["cell_id"])
                return path
            except CorruptRun as exc:  # a torn file in the newest run must not hide the others
                if warn:
                    warn(f"skipping {exc}")
        some = runs_dir.is_dir() and any((p / "run.json").exists() for p in runs_dir.iterdir())
        raise UsageError(f"no {'readable ' if some else ''}runs under {runs_dir}; start one with `ebmbench run --all`")
    names = [p.name for p in runs_dir.iterdir() if (p / "run.json").exists()] if runs_dir.is_dir() else []
    match = [n for n in names if n == run] or [n for n in names if n.startswith(run)]
    if len(match) == 1:
        return runs_dir / match[0]
    if not match:
        raise unknown_name("runs", run, names)
    raise UsageError(f"run id {run!r} is ambiguous: {', '.join(sorted(match))}")


# ------------------------------------------------------------------ rows and curves
def _read_parquet(path: Path, columns: list[str] | None = None):
    import pyarrow.parquet as pq

    try:
        return (pq.read_table(path) if columns is None else _read_columns(path, columns)).to_pandas()
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        run_dir = path.parent.parent if path.parent.name == "parts" else path.parent
        raise CorruptRun(f"run {run_dir.name}: cannot read {path.name} ({_short(exc)})") from None


def _read_columns(path: Path, columns: list[str]):
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    return pq.read_table(path, columns=[c for c in columns if c in present])


def _merge(frames, key: str | None):
    import pandas as pd

    frames = [f for f in frames if len(f)]
    if not frames:
        return None
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if key is not None and key in df:
        df = df.drop_duplicates(key, keep="last", ignore_index=True)  # a later part wins
    return df


def read_results(run_dir: Path, columns: list[str] | None = None):
    """Every stored row of a run: results.parquet plus the part files of its cells."""
    import pandas as pd

    run_dir = Path(run_dir)
    frames = []
    if (run_dir / "results.parquet").exists():
        frames.append(_read_parquet(run_dir / "results.parquet", columns))
    parts = run_dir / "parts"
    if parts.is_dir():
        names = sorted(p for p in parts.glob("*.parquet") if not p.name.endswith(".curves.parquet"))
        # batches (skipped pairs, reused cells) first, cells after: a cell's own part wins
        names.sort(key=lambda p: not p.name.startswith("batch-"))
        frames.extend(_read_parquet(p, columns) for p in names)
    df = _merge(frames, "cell_id")
    return pd.DataFrame() if df is None else df


def read_curves(run_dir: Path):
    from ebmbench.results.store import curves_frame

    run_dir = Path(run_dir)
    frames = []
    if (run_dir / "curves.parquet").exists():
        frames.append(_read_parquet(run_dir / "curves.parquet"))
    parts = run_dir / "parts"
    if parts.is_dir():
        frames.extend(_read_parquet(p) for p in sorted(parts.glob("*.curves.parquet")))
    df = _merge(frames, None)
    if df is None:
        return curves_frame([])
    return df.drop_duplicates(["cell_id", "step", "name"], keep="last", ignore_index=True)


load_results = read_results
load_curves = read_curves


def load_artifacts(run_dir: Path, cell_id: str) -> dict[str, Any] | None:
    """A cell's report arrays, or None when it saved none (or they cannot be read)."""
    import numpy as np

    path = Path(run_dir) / "artifacts" / f"{cell_id}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------ the cache index
def index_done_cells(
    root: Path, keys: set[str], warn: Callable[[str], None] | None = None, exclude: Path | None = None
) -> dict[str, Path]:
    """cell_key -> the run folder holding a `done` row with that key, newest run first.

    Only the key and status columns are read, so the index stays cheap over many runs;
    a run that cannot be read is skipped with a warning."""
    found: dict[str, Path] = {}
    for run_dir in reversed(list_runs(root, warn)):
        if exclude is not None and run_dir.resolve() == Path(exclude).resolve():
            continue
        try:
            df = read_results(run_dir, columns=["cell_key", "status"])
        except CorruptRun as exc:
            if warn:
                warn(f"skipping {exc}")
            continue
        if "cell_key" not in df or df.empty:
            continue  # written before cell keys existed
        for key in df.loc[(df["status"] == "done") & df["cell_key"].isin(keys), "cell_key"]:
            found.setdefault(key, run_dir)
        if len(found) == len(keys):
            break
    return found


def past_wall_times(
    root: Path,
    signatures: set[tuple[str, str, str]],
    warn: Callable[[str], None] | None = None,
    exclude: Path | None = None,
    max_runs: int = 20,
) -> dict[tuple[str, str, str], float]:
    """(task, model/method label, profile) -> the median wall time of its `done` rows in
    the newest `max_runs` runs under `root` (any seed, any code version: a cost estimate,
    not a cached result). The runner starts the longest cells first, so that -j N does not
    end with one long cell running alone; cells never seen before are simply absent."""
    import pandas as pd

    frames = []
    wanted = set(signatures)
    for run_dir in list(reversed(list_runs(root, warn)))[:max_runs]:
        if exclude is not None and run_dir.resolve() == Path(exclude).resolve():
            continue
        try:
            df = read_results(run_dir, columns=["task", "label", "profile", "status", "wall_time_s"])
        except CorruptRun:
            continue  # the cache index above has already warned about it
        if df.empty or not {"task", "label", "profile", "wall_time_s"} <= set(df.columns):  # older runs
            continue
        df = df[df["status"] == "done"]
        keys = list(zip(df["task"], df["label"], df["profile"]))
        hit = [k in wanted for k in keys]
        if any(hit):
            frames.append(df[hit])
            wanted -= set(keys)
        if not wanted:
            break
    if not frames:
        return {}
    medians = pd.concat(frames).groupby(["task", "label", "profile"])["wall_time_s"].median()
    return {k: float(v) for k, v in medians.items() if v == v}
