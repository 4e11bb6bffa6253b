"""The store's part files, compaction, permissions, corrupt runs and dead-run detection
(ebmbench/results/)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import fields

import pandas as pd
import pytest
from support import invoke

from ebmbench.registry import RESERVED
from ebmbench.results.runs import (
    CorruptRun,
    find_run,
    index_done_cells,
    load_meta,
    load_results,
    process_identity,
)
from ebmbench.results.schema import SCHEMA_VERSION, ResultRow
from ebmbench.results.store import RunStore, new_run_id


def row(i, status="done", key=None, **metrics):
    return {
        "run_id": "r",
        "cell_id": f"c{i}",
        "cell_key": key or f"k{i}",
        "task": "t",
        "model": "m",
        "method": "h",
        "label": "m/h",
        "rep": i,
        "seed": i,
        "status": status,
        "reason": None,
        "train_time_s": 1.0,
        **metrics,
    }


def make(root, run_id, meta=None):
    return RunStore.create(root, run_id, {"run_id": run_id, "status": "finished", **(meta or {})})


def test_result_row_fields_are_the_reserved_columns():
    """A metric can never shadow a core column: the two lists are the same."""
    assert {f.name for f in fields(ResultRow)} - {"metrics"} == RESERVED


def test_one_part_file_per_cell_then_one_compacted_file(tmp_path):
    store = make(tmp_path, "r1")
    for i in range(3):
        store.add(row(i, acc=i / 10), [{"step": 0, "time_s": 0.0, "loss": float(i)}])
    parts = sorted(p.name for p in store.parts.iterdir())
    assert parts == [
        "c0.curves.parquet",
        "c0.parquet",
        "c1.curves.parquet",
        "c1.parquet",
        "c2.curves.parquet",
        "c2.parquet",
    ]
    assert load_results(store.dir)["acc"].tolist() == [0.0, 0.1, 0.2]  # readable before compaction
    store.finish("finished")
    assert not store.parts.exists()
    df = pd.read_parquet(store.dir / "results.parquet")
    assert df["cell_id"].tolist() == ["c0", "c1", "c2"] and df["acc"].tolist() == [0.0, 0.1, 0.2]
    assert len(pd.read_parquet(store.dir / "curves.parquet")) == 3
    import pyarrow.parquet as pq

    assert (
        json.loads(pq.read_schema(store.dir / "results.parquet").metadata[b"ebmbench"])["schema_version"]
        == SCHEMA_VERSION
    )
    assert json.loads((store.dir / "run.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_resumed_run_merges_old_rows_and_new_parts(tmp_path):
    store = make(tmp_path, "r1")
    store.add(row(0))
    store.finish("interrupted")
    again = RunStore.reopen(store.dir, load_meta(store.dir))
    again.add(row(1))
    again.add(row(0, status="error"))  # a part file wins over an older row of the same cell
    again.finish("finished")
    df = load_results(store.dir).set_index("cell_id")
    assert df["status"].to_dict() == {"c0": "error", "c1": "done"}


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        from ebmbench.results import store as store_module

        store_module._file_mode.cache_clear()
        store = make(tmp_path, "r1")
        store.add(row(0))
        mode = stat.S_IMODE((store.parts / "c0.parquet").stat().st_mode)
        assert mode == 0o644, oct(mode)
        assert stat.S_IMODE((store.dir / "run.json").stat().st_mode) == 0o644
    finally:
        os.umask(old)
        store_module._file_mode.cache_clear()


def test_run_ids_carry_48_random_bits():
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(i.rsplit("-", 1)[1]) == 12 for i in ids)


def test_corrupt_runs_are_skipped_with_one_line_and_named_when_asked_for(tmp_path):
    good = make(
        tmp_path,
        "20260101-000000-good",
        {"profile": {"name": "smoke"}, "n_cells": 1, "metric_directions": {"acc": "higher"}, "main_metrics": {}},
    )
    good.add(row(0, acc=0.5))
    good.finish("finished")
    torn = make(tmp_path, "20260102-000000-torn")
    (torn.dir / "results.parquet").write_bytes(b"PAR1 this is not a parquet file")
    bad_meta = tmp_path / "runs" / "20260103-000000-badm"
    bad_meta.mkdir(parents=True)
    (bad_meta / "run.json").write_text("{ not json")
    warnings = []
    assert find_run(tmp_path, None, warnings.append) == good.dir
    assert len(warnings) == 2 and all("\n" not in w for w in warnings)
    assert "badm: cannot read run.json" in warnings[0] and "torn: cannot read results.parquet" in warnings[1]
    with pytest.raises(CorruptRun, match="torn: cannot read results.parquet"):
        load_results(torn.dir)
    # through the CLI: bare show shows the good run; naming the torn one is one line, exit 2
    r = invoke("show", "--out", tmp_path)
    assert r.exit_code == 0 and "20260101-000000-good" in r.output and "Traceback" not in r.stderr
    assert r.stderr.count("warning: skipping") == 2
    r = invoke("show", "20260102-000000-torn", "--out", tmp_path)
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1 and "cannot read results.parquet" in r.stderr
    r = invoke("report", "20260103-000000-badm", "--root", tmp_path)
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1 and "run.json" in r.stderr


def test_a_running_run_whose_process_is_gone_reads_as_interrupted(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    store = make(tmp_path, "r1", {"status": "running", **process_identity(), "pid": pid, "pid_start": "1"})
    meta = load_meta(store.dir)
    assert meta["status"] == "interrupted" and str(pid) in meta["stale"]
    alive = make(tmp_path, "r2", {"status": "running", **process_identity()})
    assert load_meta(alive.dir)["status"] == "running"  # this very process: alive


def test_cache_index_finds_done_cells_newest_first_and_skips_corrupt_runs(tmp_path):
    old = make(tmp_path, "20260101-000000-aaaa")
    old.add(row(0, key="K0"))
    old.add(row(1, key="K1", status="error"))
    old.finish("finished")
    new = make(tmp_path, "20260102-000000-bbbb")
    new.add(row(0, key="K0"))  # not compacted: parts count too
    torn = make(tmp_path, "20260103-000000-cccc")
    (torn.dir / "results.parquet").write_bytes(b"garbage")
    warnings = []
    found = index_done_cells(tmp_path, {"K0", "K1", "K2"}, warnings.append)
    assert found == {"K0": new.dir}  # error rows are never reused
    assert len(warnings) == 1 and "cccc" in warnings[0]
    assert index_done_cells(tmp_path, {"K0"}, exclude=new.dir) == {"K0": old.dir}
