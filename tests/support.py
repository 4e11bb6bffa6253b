"""Helpers the tests import by name (`from support import ...`): a module with a name of
its own, because `conftest` is ambiguous once sub-folders have their own conftest.py."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from ebmbench.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
FAULTS_DIR = FIXTURES / "faults"
BROKEN_DIR = FIXTURES / "broken"
LOCAL_DIR = FIXTURES / "local"

# The cheapest real cell: trains in well under a second. The metrics are the vertical
# slice's (sampler, noise draws, inference by descent), so the run's cost does not
# grow with the catalogue.
SLICE_METRICS = ("mmd2", "energy_gap", "auroc_noise", "completion")
SMOKE = (
    "-t",
    "8gaussians",
    "-m",
    "kmeans",
    "-M",
    "kmeans",
    "--profile",
    "smoke",
    "--seeds",
    "1",
    "--no-report",
    "--metric",
    ",".join(SLICE_METRICS),
)

ENV_VARS = ("EBMBENCH_DISABLE_PLUGINS", "EBMBENCH_PLUGINS_DIR", "EBMBENCH_STRICT_PLUGINS")


def invoke(*args: str, env: dict[str, str] | None = None):
    """Run the CLI in-process (click's test runner); stderr is kept apart (click >= 8.2)."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def assert_usage_error(result, *fragments: str) -> str:
    """Exit code 2, exactly one line on stderr, no traceback; returns that line."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    # An exception that escaped the CLI's handler would show up here, not as text.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def only_run(out: Path) -> Path:
    """The single run folder under OUT/runs."""
    runs = sorted((Path(out) / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def fn_energy(fn, conditional: bool = False):
    """A model whose energy is fn(y) (x ignored), or fn(y, x) when `conditional`:
    closed-form energies for metric tests."""
    import torch

    class FnEnergy(torch.nn.Module):
        def forward(self, y, x=None):
            return fn(y, x) if conditional else fn(y)

    return FnEnergy()


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_gone(pids, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def result_row(task, label, rep, data_seed, nll, status="done", seed=None):
    """One stored result row of a cell with a single metric `nll`."""
    model, method = label.split("/")
    return {
        "cell_id": f"{task}-{label}-{rep}-{data_seed}-{seed}",
        "task": task,
        "model": model,
        "method": method,
        "label": label,
        "rep": rep,
        "seed": rep if seed is None else seed,
        "data_seed": data_seed,
        "status": status,
        "reason": None,
        "train_time_s": 1.0,
        "nll": nll,
    }


def write_run(root, run_id, records, directions=None):
    """A finished run folder ROOT/runs/RUN_ID holding `records` (main metric of task t: nll)."""
    meta = {
        "run_id": run_id,
        "status": "finished",
        "n_cells": len(records),
        "profile": {"name": "smoke"},
        "metric_directions": directions or {"nll": "lower"},
        "main_metrics": {"t": "nll"},
    }
    from ebmbench.results.store import RunStore

    store = RunStore.create(root, run_id, meta)
    for record in records:
        store.add(record, [])
    return root / "runs" / run_id
