"""Time and peak memory of each density / sample-quality / Fisher metric on 10 000 samples.

Issue 3: "every metric on 10 000 samples must run in bounded memory (< 1 GB)". Each
metric runs on a fresh evaluation context (nothing shared through the cache except the
10 000 model samples), so its figure includes everything it computes itself, e.g. the
grid energies (GRID_RES^2 = 82 944 points) of a density metric.

Peak memory is the rise of the process's peak RSS (VmHWM) over its RSS just before
the call, after resetting the peak with `echo 5 > /proc/self/clear_refs` (as
ebmbench/cell.py does) and handing freed heap back to the OS with malloc_trim, so the
allocator's leftovers from the previous metric cannot hide this one's allocations.
tracemalloc would not see torch's buffers. Wall time is recorded (pytest-benchmark,
one round) and printed, never asserted.

    OMP_NUM_THREADS=1 pytest -q -m slow tests/benchmarks/test_metric_memory.py
    (add --benchmark-enable for pytest-benchmark's own table and saved JSON)
"""

from __future__ import annotations

import ctypes
import time

import pytest
import torch

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench_plugins.metrics import density as D
from ebmbench_plugins.metrics import fisher as F
from ebmbench_plugins.metrics import sample_features as SF
from ebmbench_plugins.metrics import sample_quality as SQ
from ebmbench_plugins.tasks.digits import Digits, load_digits_arrays
from ebmbench_plugins.tasks.toy2d import EightGaussians

N = 10_000
LIMIT_MB = 1024.0
METRICS = {
    c.name: c
    for c in (
        D.NLLGrid,
        D.KLpqGrid,
        D.KLqpGrid,
        D.NLLGridCal,
        D.KLpqGridCal,
        D.KLqpGridCal,
        D.BetaCal,
        SQ.MMD,
        SQ.SlicedW2,
        SF.Precision,
        SF.Recall,
        SF.Density,
        SF.Coverage,
        F.FisherDivergence,
        SF.FIDDigits,
    )
}
CASES_2D = [
    "nll_grid",
    "kl_pq_grid",
    "kl_qp_grid",
    "nll_grid_cal",
    "kl_pq_grid_cal",
    "kl_qp_grid_cal",
    "beta_cal",
    "mmd2",
    "sliced_w2",
    "precision",
    "recall",
    "density",
    "coverage",
    "fisher_div",
]
CASES_64D = ["mmd2", "sliced_w2", "precision", "recall", "density", "coverage", "fid_digits"]
ROWS: list[tuple[str, str, float, float]] = []


# ---------------------------------------------------------------- memory probes
def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> float:
    """Return freed heap to the OS, reset VmHWM to the current RSS; return that RSS (MB)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status_mb("VmRSS")


# ---------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def inputs():
    """10 000-point splits and model samples: 8gaussians (2-D) and jittered digits (64-d)."""
    from ebmbench_plugins.metrics._digits_features import digits_classifier
    from ebmbench_plugins.models._nets import MLPEnergy

    digits_classifier()  # train/load the FID classifier outside the measurement
    g = torch.Generator().manual_seed(0)
    toy = EightGaussians()
    split = lambda: toy.sample(N, g)  # noqa: E731
    data2 = ebmbench.TaskData(split(), split(), split())
    model = MLPEnergy(data2.train.y.mean(0), data2.train.y.std(0), hidden=128, depth=2, generator=g).eval()
    model.requires_grad_(False)
    images, _ = load_digits_arrays()

    def jitter():
        idx = torch.randint(0, len(images), (N,), generator=g)
        return (images[idx] + 0.05 * torch.randn(N, 64, generator=g)).clamp(0, 1)

    data64 = ebmbench.TaskData(*(ebmbench.Split(jitter()) for _ in range(3)))
    return {2: (toy, data2, model, split().y), 64: (Digits(), data64, None, jitter())}


def fresh_ctx(task, data, model, samples):
    ctx = EvalContext(None, task, get_profile("quick"), 0, "cpu", model=model, data=data, method=None)
    ctx.cache["samples"] = ebmbench.SampleResult(samples)
    ctx.cache["samples_x"] = None
    return ctx


@pytest.fixture(scope="module", autouse=True)
def table(request):
    yield
    if not ROWS:
        return
    lines = [
        f"{'metric':<16}{'dim':>4}{'time_s':>9}{'peak_MB':>9}",
        *(f"{m:<16}{d:>4}{t:>9.2f}{p:>9.1f}" for m, d, t, p in ROWS),
    ]
    text = "\n".join(["", f"metrics on {N} samples: wall time and peak RSS increase", *lines])
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # show the table without -s
        print(text)


def _measure(benchmark, name, dim, inputs):
    task, data, model, samples = inputs[dim]
    metric = METRICS[name]()
    assert metric.applies_to(task) is None, metric.applies_to(task)
    ctx = fresh_ctx(task, data, model, samples)
    stats = {}

    def run():
        base = _reset_peak()
        t0 = time.perf_counter()
        value = metric.compute(ctx)
        stats["time"] = time.perf_counter() - t0
        stats["peak"] = _status_mb("VmHWM") - base
        return value

    value = benchmark.pedantic(run, rounds=1, iterations=1)
    assert value == value, f"{name} returned NaN"
    benchmark.extra_info.update(peak_mb=stats["peak"], dim=dim, value=float(value))
    ROWS.append((name, str(dim), stats["time"], stats["peak"]))
    assert stats["peak"] < LIMIT_MB, f"{name} on {N} {dim}-d samples peaked at {stats['peak']:.0f} MB"


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES_2D)
def test_metric_2d(benchmark, name, inputs):
    _measure(benchmark, name, 2, inputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES_64D)
def test_metric_64d(benchmark, name, inputs):
    _measure(benchmark, name, 64, inputs)
