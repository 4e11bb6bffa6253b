"""Writing a run: `results/runs/<run_id>/` with `run.json`, per-cell part files and,
once the run ends, the compacted `results.parquet` and `curves.parquet`.

Each finished cell costs O(1) writes, whatever the size of the run: its report
arrays (`artifacts/<cell_id>.npz`), its curve and then its row, each in a part file
under `parts/` (the row last: a row present means the cell is complete). At the end
`compact()` merges the parts into the two parquet files; readers accept both forms
(ebmbench.results.runs), so a run killed at any moment keeps every finished cell.

Every file is written to a temporary name in the same folder and renamed over the
target (atomic on POSIX), with the permissions the user's umask gives. A failed
write raises `StoreError` with one line naming the file: the runner turns it into a
`failed` run. Parquet, JSON and .npz only; no pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from ebmbench.results.schema import CURVE_COLUMNS, SCHEMA_VERSION, RunStatus

__all__ = ["RunStore", "StoreError", "new_run_id", "write_json", "write_parquet", "curves_frame"]


class StoreError(Exception):
    """A results file could not be written (disk full, permissions, read-only folder)."""


def new_run_id() -> str:
    # 48 random bits: two runs started in the same second by CI shards do not collide
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(6)


@cache
def _file_mode() -> int:
    umask = os.umask(0)  # the only way to read it; set straight back
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(path: Path, write) -> None:
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, _file_mode())  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, default=str) + "\n"))


def write_parquet(path: Path, df, metadata: dict[str, Any] | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"ebmbench"] = json.dumps({"schema_version": SCHEMA_VERSION, **(metadata or {})}, default=str).encode()
    table = table.replace_schema_metadata(meta)
    _atomic_write(Path(path), lambda tmp: pq.write_table(table, tmp))


def part_name(cell_id: str) -> str:
    """A file name for a cell's parts: the id itself when it is safe (real ids are hex)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", cell_id)
    return safe if safe == cell_id else f"{safe}-{hashlib.sha256(cell_id.encode()).hexdigest()[:8]}"


def curves_frame(points: list[dict[str, Any]]):
    import pandas as pd

    return pd.DataFrame(points, columns=list(CURVE_COLUMNS))


def _curve_points(row: dict[str, Any], curve: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A cell's curve (one dict per logged step) as long rows: one per (step, name)."""
    keys = {k: row.get(k) for k in ("run_id", "cell_id", "task", "model", "method", "label", "rep", "seed")}
    return [
        {**keys, "step": p["step"], "time_s": p["time_s"], "name": name, "value": value}
        for p in curve
        for name, value in p.items()
        if name not in ("step", "time_s")
    ]


class RunStore:
    """One run's folder. `create` starts a run, `reopen` continues one (--resume)."""

    def __init__(self, run_dir: Path, meta: dict[str, Any]):
        self.dir = Path(run_dir)
        self.run_id = meta["run_id"]
        self.meta = meta
        self.parts = self.dir / "parts"
        self._n_batches = len(list(self.parts.glob("batch-*.parquet"))) if self.parts.is_dir() else 0

    @classmethod
    def create(cls, root: Path, run_id: str, meta: dict[str, Any]) -> "RunStore":
        run_dir = Path(root) / "runs" / run_id
        try:
            (run_dir / "parts").mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise StoreError(f"cannot create {run_dir}: {exc.strerror or exc}") from exc
        store = cls(run_dir, {**meta, "schema_version": SCHEMA_VERSION})
        store.write_meta()
        return store

    @classmethod
    def reopen(cls, run_dir: Path, meta: dict[str, Any]) -> "RunStore":
        (Path(run_dir) / "parts").mkdir(exist_ok=True)
        store = cls(run_dir, {**meta, "schema_version": SCHEMA_VERSION})
        store.write_meta()
        return store

    @property
    def table_meta(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "directions": self.meta.get("metric_directions", {})}

    def write_meta(self) -> None:
        write_json(self.dir / "run.json", self.meta)

    def add(
        self, record: dict[str, Any], curve: list[dict[str, Any]] = (), artifacts: dict[str, Any] | None = None
    ) -> None:
        """Store one finished cell: artifacts, curve, then the row that commits it."""
        if artifacts:
            self.add_artifacts(record["cell_id"], artifacts)
        self.add_record(record, curves_frame(_curve_points(record, curve)))

    def add_record(self, record: dict[str, Any], curve=None) -> None:
        """A finished row and its curve (a long frame), e.g. copied from an earlier run."""
        import pandas as pd

        name = part_name(record["cell_id"])
        if curve is not None and len(curve):
            write_parquet(self.parts / f"{name}.curves.parquet", curve, self.table_meta)
        write_parquet(self.parts / f"{name}.parquet", pd.DataFrame([record]), self.table_meta)

    def add_skipped(self, records: list[dict[str, Any]]) -> None:
        """Incompatible pairs: many tiny rows, so all of them go into one part file."""
        self.add_batch(records)

    def add_batch(self, records: list[dict[str, Any]], curves=None) -> None:
        """Many rows at once (skipped pairs, cells reused from earlier runs) in one part
        file, and their curves (a long frame) in another: two writes, not two per row."""
        import pandas as pd

        if not records:
            return
        self._n_batches += 1
        name = f"batch-{self._n_batches}"
        if curves is not None and len(curves):
            write_parquet(self.parts / f"{name}.curves.parquet", curves, self.table_meta)
        write_parquet(self.parts / f"{name}.parquet", pd.DataFrame(records), self.table_meta)

    def add_artifacts(self, cell_id: str, arrays: dict[str, Any]) -> None:
        """A cell's report arrays as artifacts/<cell_id>.npz (plain arrays, no pickle)."""
        import numpy as np

        if not arrays:
            return

        def as_array(v):
            a = np.asarray(v)
            return a.astype(np.float32) if a.dtype.kind == "f" else a

        def write(tmp):
            with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
                np.savez(fh, **{k: as_array(v) for k, v in arrays.items()})

        folder = self.dir / "artifacts"
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {folder}: {exc.strerror or exc}") from exc
        _atomic_write(folder / f"{cell_id}.npz", write)

    def copy_artifacts(self, source_run: Path, cell_id: str) -> None:
        """A reused cell's arrays, from the run that computed it."""
        src = Path(source_run) / "artifacts" / f"{cell_id}.npz"
        if not src.exists():
            return
        dst = self.dir / "artifacts" / f"{cell_id}.npz"
        try:
            dst.parent.mkdir(exist_ok=True)
            os.link(src, dst)  # immutable once written: a hard link is a free copy
        except FileExistsError:
            pass
        except OSError:  # another file system, or links not allowed
            _atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))

    def compact(self) -> None:
        """Merge the part files into results.parquet and curves.parquet, then drop them.

        Rows of a resumed run's earlier compaction are kept; a part file wins over an
        older row of the same cell."""
        from ebmbench.results.runs import read_curves, read_results

        results = read_results(self.dir)
        curves = read_curves(self.dir)
        write_parquet(self.dir / "results.parquet", results, self.table_meta)
        write_parquet(self.dir / "curves.parquet", curves, self.table_meta)
        shutil.rmtree(self.parts, ignore_errors=True)

    def finish(self, status: RunStatus, reason: str | None = None) -> None:
        """Compact (unless the disk already failed us) and record how the run ended."""
        if status != RunStatus.FAILED:
            self.compact()
        self.meta.update(status=str(status), ended=datetime.now(timezone.utc).isoformat())
        if reason:
            self.meta["failure"] = reason
        self.write_meta()
