"""What the runner and the store cost on top of the science (issue 9).

* Runner overhead on one PCD cell (quick profile, as `run --all` runs it): the whole
  `execute` path (plan, run.json, executor, store, compaction) around the hand-written
  equivalent — `run_cell`, which builds the data and model, trains and measures exactly
  as a loop written by hand would. The overhead is measured inside each call (execute's time minus the cell's own wall
  time), so load spikes between calls do not count; 1 + median overhead goes into
  `extra_info` and must stay <= 1.03, with the throughputs `cells_per_s` (through
  `execute`) and `direct_cells_per_s` (run_cell), medians over the rounds.
* Store write per cell at 10 000 synthetic cells: the time of one `RunStore.add` after
  100 and after 10 000 cells must be the same (O(1) part files, no rewrite of what is
  stored). `extra_info` has the write throughput: `cells_per_s` over the 9 800 adds in
  between, and `early_cells_per_s` / `late_cells_per_s` from the two medians.

Run: `pytest -m slow -s tests/benchmarks/test_runner_overhead.py --benchmark-enable`.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from ebmbench.execution.cell import run_cell
from ebmbench.execution.plan import RunConfig, plan
from ebmbench.params import parse_selection
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.results.store import RunStore
from ebmbench.runner import execute

pytestmark = [pytest.mark.slow, pytest.mark.bench]
ROUNDS = 3


def _config(out: Path) -> RunConfig:
    sel = lambda t: parse_selection(t)  # noqa: E731
    return RunConfig(
        sel("8gaussians"),
        sel("mlp"),
        sel("pcd"),
        seeds=1,
        profile="quick",  # the default profile: a PCD cell of `run --all`
        out=out,
        metrics=("nll_grid", "mmd2", "energy_gap"),
        curve_metrics=(),
        executor="serial",
        force=True,
    )


def test_runner_overhead_on_one_pcd_cell(tmp_path, benchmark):
    import torch

    from ebmbench.results.runs import load_results

    torch.set_num_threads(1)
    registry = load_registry(LoadConfig())
    cfg = _config(tmp_path)
    (cell,) = plan(registry, cfg)
    run_cell(cell.spec, registry)  # warm caches (reference densities, imports) for both sides
    direct, overhead, totals = [], [], []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        run_cell(cell.spec, registry)
        direct.append(time.perf_counter() - t)
        # the runner's own cost, measured inside one call: the whole execute() minus the
        # cell's wall time as the executor measured it (immune to load spikes between calls)
        t = time.perf_counter()
        outcome = execute(registry, cfg, plan(registry, cfg), warn=lambda m: None)
        total = time.perf_counter() - t
        totals.append(total)
        cell_s = float(load_results(outcome.store.dir)["wall_time_s"].iloc[0])
        overhead.append((total - cell_s) / cell_s)
    ratio = 1 + statistics.median(overhead)
    benchmark.extra_info.update(
        direct_s=statistics.median(direct),
        overhead_ratio=ratio,
        cells_per_s=1 / statistics.median(totals),
        direct_cells_per_s=1 / statistics.median(direct),
    )
    benchmark.pedantic(lambda: execute(registry, cfg, plan(registry, cfg), warn=lambda m: None), rounds=1)
    print(f"\nrunner / cell on one PCD quick cell: {ratio:.3f} (cell {statistics.median(direct):.3f} s run directly)")
    assert ratio <= 1.03


def _record(i: int) -> dict:
    return {
        "run_id": "r",
        "cell_id": f"c{i:06d}",
        "cell_key": f"k{i}",
        "task": "t",
        "model": "m",
        "method": "h",
        "label": "m/h",
        "rep": i,
        "seed": i,
        "status": "done",
        "reason": None,
        "nll_grid": 1.0 + i * 1e-6,
        "mmd2": 0.01,
    }


def test_store_write_per_cell_stays_constant(tmp_path, benchmark):
    store = RunStore.create(tmp_path, "r", {"run_id": "r"})
    curve = [{"step": s, "time_s": 0.01 * s, "loss": 1.0} for s in range(10)]

    def timed(first: int, n: int) -> float:
        times = []
        for i in range(first, first + n):
            t = time.perf_counter()
            store.add(_record(i), curve)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    early = timed(0, 100)
    t = time.perf_counter()
    for i in range(100, 9_900):
        store.add(_record(i), curve)
    bulk = time.perf_counter() - t
    late = timed(9_900, 100)
    benchmark.extra_info.update(
        early_ms=early * 1e3,
        late_ms=late * 1e3,
        cells=10_000,
        cells_per_s=9_800 / bulk,
        early_cells_per_s=1 / early,
        late_cells_per_s=1 / late,
    )
    ids = iter(range(20_000, 20_020))  # 20 rounds: one add of a few ms is noise at bench-compare's 15 %
    benchmark.pedantic(store.add, setup=lambda: ((_record(next(ids)), curve), {}), rounds=20)
    print(
        f"\nstore.add per cell: {early * 1e3:.2f} ms at 100 cells, {late * 1e3:.2f} ms at 10 000 cells; "
        f"{9_800 / bulk:.0f} cells/s in between"
    )
    assert late < 1.5 * early
