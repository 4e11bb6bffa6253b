"""The results store: `results/runs/<run_id>/{results,curves}.parquet` and `run.json`.

Every write goes to a temporary file in the same folder and is renamed over the
target (atomic on POSIX), after every finished cell: an interrupted run keeps all
it completed. Parquet and JSON only; no pickle.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ebmbench.errors import UsageError

__all__ = ["RunStore", "new_run_id", "find_run", "load_results", "load_curves", "load_meta",
           "load_artifacts"]


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    def w(tmp):
        Path(tmp).write_text(json.dumps(data, indent=2, default=str) + "\n")

    _atomic_write(path, w)


def write_parquet(path: Path, df, metadata: dict[str, Any] | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta[b"ebmbench"] = json.dumps(metadata, default=str).encode()
        table = table.replace_schema_metadata(meta)
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


class RunStore:
    """Accumulates rows and curves of one run and flushes them after each cell."""

    def __init__(self, root: Path, run_id: str, meta: dict[str, Any]):
        self.dir = Path(root) / "runs" / run_id
        self.dir.mkdir(parents=True, exist_ok=False)
        self.run_id = run_id
        self.meta = meta
        self.rows: list[dict[str, Any]] = []
        self.curves: list[dict[str, Any]] = []
        self._dirty_curves = False
        self.write_meta()

    def write_meta(self) -> None:
        write_json(self.dir / "run.json", self.meta)

    def add(self, row: dict[str, Any], curve: list[dict[str, Any]], flush: bool = True) -> None:
        """Keep a finished cell; `flush=False` defers the write (for cheap skipped rows)."""
        self.rows.append(row)
        keys = {k: row[k] for k in ("cell_id", "task", "model", "method", "label", "rep", "seed")}
        for point in curve:
            step, time_s = point["step"], point["time_s"]
            for name, value in point.items():
                if name not in ("step", "time_s"):
                    self.curves.append({"run_id": self.run_id, **keys, "step": step,
                                        "time_s": time_s, "name": name, "value": value})
        self._dirty_curves = self._dirty_curves or bool(curve)
        if flush:
            self.flush()

    def flush(self) -> None:
        import pandas as pd

        table_meta = {"run_id": self.run_id, "directions": self.meta.get("metric_directions", {})}
        write_parquet(self.dir / "results.parquet", pd.DataFrame(self.rows), table_meta)
        if self._dirty_curves or not (self.dir / "curves.parquet").exists():
            write_parquet(self.dir / "curves.parquet", _curves_frame(self.curves), table_meta)
            self._dirty_curves = False

    def add_artifacts(self, cell_id: str, arrays: dict[str, Any] | None) -> None:
        """Write a cell's report arrays to artifacts/<cell_id>.npz (plain arrays, no pickle)."""
        if not arrays:
            return
        import numpy as np

        def as_array(v):
            a = np.asarray(v)
            return a.astype(np.float32) if a.dtype.kind == "f" else a

        def w(tmp):
            with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
                np.savez(fh, **{k: as_array(v) for k, v in arrays.items()})

        (self.dir / "artifacts").mkdir(exist_ok=True)
        _atomic_write(self.dir / "artifacts" / f"{cell_id}.npz", w)


def _curves_frame(curves):
    import pandas as pd

    cols = ["run_id", "cell_id", "task", "model", "method", "label", "rep", "seed", "step",
            "time_s", "name", "value"]
    return pd.DataFrame(curves, columns=cols)


# ---------------------------------------------------------------------- reading
def find_run(root: Path, run: str | None) -> Path:
    """A run folder by id or path; the latest run when `run` is None."""
    if run and Path(run).is_dir() and (Path(run) / "run.json").exists():
        return Path(run)
    runs_dir = Path(root) / "runs"
    runs = sorted(p for p in runs_dir.glob("*") if (p / "run.json").exists()) if runs_dir.is_dir() else []
    if run is None:
        if not runs:
            raise UsageError(f"no runs under {runs_dir}; start one with `ebmbench run --all`")
        return runs[-1]
    match = [p for p in runs if p.name == run] or [p for p in runs if p.name.startswith(run)]
    if len(match) == 1:
        return match[0]
    if not match:
        from ebmbench.errors import unknown_name

        raise unknown_name("runs", run, [p.name for p in runs])
    raise UsageError(f"run id {run!r} is ambiguous: {', '.join(p.name for p in match)}")


def load_meta(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "run.json").read_text())


def load_results(run_dir: Path):
    import pandas as pd

    path = Path(run_dir) / "results.parquet"
    if not path.exists():
        return pd.DataFrame()
    return pd.read_parquet(path)


def load_artifacts(run_dir: Path, cell_id: str) -> dict[str, Any] | None:
    """A cell's report arrays, or None when it saved none."""
    import numpy as np

    path = Path(run_dir) / "artifacts" / f"{cell_id}.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def load_curves(run_dir: Path):
    import pandas as pd

    path = Path(run_dir) / "curves.parquet"
    return pd.read_parquet(path) if path.exists() else _curves_frame([])
