"""Time, throughput and peak memory of each metric on 10 000 samples.

Issue 3: "every metric on 10 000 samples must run in bounded memory (< 1 GB)"; issue 10
adds its speed. The 2-D cases are every metric the registry applies to `8gaussians`
(`applicable_metrics`, as a cell picks them, so a new metric is measured without
touching this file); the 64-d ones are the sample-feature metrics and FID on jittered
digits. On 8gaussians the splits have 10 000 points each and the 10 000 model samples
are drawn once, as a cell draws them (`EvalContext.samples()`: PCD's evaluation sampler,
Langevin for the quick profile's 150 steps from uniform noise) from an untrained
2-128-128-1 MLP energy; on digits jittered images stand in for model samples. Each
metric runs on a fresh evaluation context (nothing shared through the cache except
those model samples), so its figure includes everything it computes itself, e.g. the
grid energies (GRID_RES^2 = 82 944 points) of a density metric. `acceptance` is NaN
here by definition (Langevin has no Metropolis step).

Peak memory is the rise of the process's peak RSS (VmHWM) over its RSS just before
the call, after resetting the peak with `echo 5 > /proc/self/clear_refs` (as
ebmbench/cell.py does) and handing freed heap back to the OS with malloc_trim, so the
allocator's leftovers from the previous metric cannot hide this one's allocations.
tracemalloc would not see torch's buffers. Wall time is recorded (pytest-benchmark,
one round; a metric faster than 0.25 s gets further rounds, on fresh contexts, for up
to a second, since a single timing of a few ms is noise) and printed, never asserted;
`extra_info` has `samples_per_s`, 10 000 over the median time: the rate of an
evaluation on 10 000 samples (the inference metrics and `ess_per_s` work on their own,
fixed number of points: the profile's 100 test points, 32 chains).

    pytest -q -m slow tests/benchmarks/test_metric_memory.py   (torch runs on one thread, as a cell)
    (add --benchmark-enable for pytest-benchmark's own table and saved JSON)
"""

from __future__ import annotations

import ctypes
import dataclasses
import statistics
import time

import pytest
import torch

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.execution.cell import applicable_metrics
from ebmbench.profiles import get_profile
from ebmbench.registry import LoadConfig, load_registry
from ebmbench_plugins.tasks.digits import Digits, load_digits_arrays

N = 10_000
LIMIT_MB = 1024.0
REGISTRY = load_registry(LoadConfig())
PROFILE = dataclasses.replace(get_profile("quick"), n_samples=N)  # quick's evaluation, 10 000 model samples
CASES_2D = applicable_metrics(REGISTRY, REGISTRY.make("tasks", "8gaussians"))
CASES_64D = ["mmd2", "sliced_w2", "precision", "recall", "density", "coverage", "fid_digits"]
CHEAP_S, CHEAP_BUDGET_S = 0.25, 1.0  # metrics faster than CHEAP_S get rounds up to CHEAP_BUDGET_S
UNDEFINED = {"acceptance"}  # NaN by definition on these samples: Langevin has no MH step
ROWS: list[tuple[str, str, float, float, float]] = []


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
    toy = REGISTRY.make("tasks", "8gaussians")
    split = lambda: toy.sample(N, g)  # noqa: E731
    data2 = ebmbench.TaskData(split(), split(), split())
    model = MLPEnergy(data2.train.y.mean(0), data2.train.y.std(0), hidden=128, depth=2, generator=g).eval()
    model.requires_grad_(False)
    method = REGISTRY.make("methods", "pcd")  # its sampler() is what evaluation runs (and ess_per_s)
    samples2 = fresh_ctx(toy, data2, model, None, method).samples()  # N chains, profile's sampler_steps
    images, _ = load_digits_arrays()

    def jitter():
        idx = torch.randint(0, len(images), (N,), generator=g)
        return (images[idx] + 0.05 * torch.randn(N, 64, generator=g)).clamp(0, 1)

    data64 = ebmbench.TaskData(*(ebmbench.Split(jitter()) for _ in range(3)))
    samples64 = ebmbench.SampleResult(jitter())
    return {2: (toy, data2, model, samples2, method), 64: (Digits(), data64, None, samples64, None)}


def fresh_ctx(task, data, model, samples, method):
    """An evaluation context sharing nothing but the model samples (if given)."""
    ctx = EvalContext(REGISTRY, task, PROFILE, 0, "cpu", model=model, data=data, method=method)
    if samples is not None:
        ctx.cache["samples"] = ebmbench.SampleResult(samples.samples, dict(samples.stats))
        ctx.cache["samples_x"] = None
    return ctx


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as a cell evaluates (RunConfig.threads): the figures are a cell's,
    and a second thread competing with other work on a small machine made them erratic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", autouse=True)
def table(request):
    yield
    if not ROWS:
        return
    lines = [
        f"{'metric':<20}{'dim':>4}{'time_s':>9}{'samples/s':>11}{'peak_MB':>9}",
        *(f"{m:<20}{d:>4}{t:>9.2f}{r:>11.3g}{p:>9.1f}" for m, d, t, r, p in ROWS),
    ]
    text = "\n".join(["", f"metrics on {N} samples: wall time, throughput and peak RSS increase", *lines])
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # show the table without -s
        print(text)


def _measure(benchmark, name, dim, inputs):
    task, data, model, samples, method = inputs[dim]
    metric = REGISTRY.make("metrics", name)
    assert metric.applies_to(task) is None, metric.applies_to(task)
    ctx = fresh_ctx(task, data, model, samples, method)
    stats = {}

    def run():
        base = _reset_peak()
        t0 = time.perf_counter()
        value = metric.compute(ctx)
        stats["time"] = time.perf_counter() - t0
        stats["peak"] = _status_mb("VmHWM") - base
        return value

    value = benchmark.pedantic(run, rounds=1, iterations=1)
    assert value == value or name in UNDEFINED, f"{name} returned NaN"
    times = [stats["time"]]
    if benchmark.stats is not None and stats["time"] < CHEAP_S:
        # one round of a few milliseconds is noise at bench-compare's 15 %: a cheap metric gets
        # more rounds, each on a fresh context (metrics cache in it), added to the fixture's stats
        while len(times) < 20 and sum(times) < CHEAP_BUDGET_S:
            fresh = fresh_ctx(task, data, model, samples, method)
            t0 = time.perf_counter()
            metric.compute(fresh)
            times.append(time.perf_counter() - t0)
            benchmark.stats.stats.update(times[-1])
    rate = N / statistics.median(times)
    benchmark.extra_info.update(
        peak_mb=stats["peak"], dim=dim, value=float(value), samples=N, samples_per_s=rate, rounds=len(times)
    )
    ROWS.append((name, str(dim), statistics.median(times), rate, stats["peak"]))
    assert stats["peak"] < LIMIT_MB, f"{name} on {N} {dim}-d samples peaked at {stats['peak']:.0f} MB"


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES_2D)
def test_metric_2d(benchmark, name, inputs):
    _measure(benchmark, name, 2, inputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES_64D)
def test_metric_64d(benchmark, name, inputs):
    _measure(benchmark, name, 64, inputs)
