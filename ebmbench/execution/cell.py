"""One cell of the grid: make the data, build the model, train it, measure it.

Runs wherever the executor puts it (a worker process, the main process, a Dask
worker); returns a CellResult of plain JSON-able data.
A plugin exception becomes status `error` with its traceback; non-finite losses or
energies become `diverged`. A metric that raises is a bug of the metric's plugin, not of
the cell: its value is NaN, its error goes into `metric_errors` (its traceback into
`traceback`) and the cell stays `done` — one broken third-party metric never marks the
built-in methods' cells as failed.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Callable

from ebmbench.context import Diverged, EvalContext, TrainContext
from ebmbench.errors import strip_control
from ebmbench.executor_api import CellResult, CellSpec
from ebmbench.profiles import get_profile, probe_steps
from ebmbench.registry import Registry, format_exception
from ebmbench.seeding import derive_seed, make_generator

__all__ = ["run_cell", "applicable_metrics", "training_probe", "peak_memory_reset", "peak_memory_mb"]


# ------------------------------------------------------------------ peak memory
def peak_memory_reset(device: str) -> None:
    """Reset the peak-RSS counter (Linux clear_refs 5), and CUDA's if used."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass  # falls back to the process-lifetime peak
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------ the cell
def _metric_values(
    ectx: EvalContext, metric_names: list[str], registry: Registry
) -> tuple[dict[str, float], dict[str, str], list[str]]:
    """(values, {metric: "Type: message"} of those that raised, their tracebacks)."""
    # Every metric sees the cell's seed: ctx.generator(purpose) derives a stream per
    # purpose, so a metric's draws (and the shared model samples in ctx.cache) are the
    # same whether it runs alone (--metric) or after any other metrics.
    values, errors, tracebacks = {}, {}, []
    for name in metric_names:
        metric = registry.make("metrics", name)
        try:
            v = float(metric.compute(ectx))
        except Diverged:
            raise
        except Exception as exc:  # noqa: BLE001 - the metric's bug, recorded, not the cell's
            message = strip_control(f"{type(exc).__name__}: {exc}").strip()
            errors[name] = message.splitlines()[0] if message else type(exc).__name__
            tracebacks.append(f"metric {name}:\n{format_exception(exc)}")
            v = math.nan
        values[name] = v
    return values, errors, tracebacks


def applicable_metrics(registry: Registry, task) -> list[str]:
    return [n for n in registry.names("metrics") if registry.get("metrics", n).cls().applies_to(task) is None]


def training_probe(registry: Registry, spec: CellSpec, task, profile, data, model, method):
    """Held-out metrics during training, as `val_<metric>` curve values, or None.

    The metrics see the validation split in the role of the test split, so the test split
    stays unseen until the end. The probe draws only from its own generators, restores
    every module's train/eval mode and leaves parameter gradients alone, so training
    follows exactly the same path with it or without it. A metric that fails or is
    non-finite here is left out of that point: the final evaluation, not the probe,
    decides the cell's status.
    """
    import dataclasses

    applicable = applicable_metrics(registry, task)
    names = [n for n in spec.curve_metrics if n in applicable]
    if not names or profile.curve_probes <= 0:
        return None
    metrics = [registry.make("metrics", n) for n in names]
    val_as_test = dataclasses.replace(data, test=data.val)
    failed: set[str] = set()

    def probe() -> dict[str, float]:
        modes = [(m, m.training) for m in model.modules()]
        # inference metrics call backward(): with the parameters frozen, nothing reaches
        # the .grad a method may be about to step on
        flags = [(p, p.requires_grad) for p in model.parameters()]
        model.eval()
        model.requires_grad_(False)
        ectx = EvalContext(
            registry,
            task,
            profile,
            derive_seed(spec.seed, "probe"),
            spec.device,
            model=model,
            data=val_as_test,
            method=method,
        )
        out = {}
        try:
            for metric in metrics:
                try:
                    v = float(metric.compute(ectx))
                except Exception as exc:  # noqa: BLE001 - a probe never decides the status
                    if metric.name not in failed:  # once per metric, into worker.log
                        failed.add(metric.name)
                        print(
                            f"curve probe {metric.name} of cell {spec.cell_id} failed: {type(exc).__name__}: {exc}",
                            file=sys.stderr,
                        )
                    continue
                if math.isfinite(v):
                    out[f"val_{metric.name}"] = v
        finally:
            for m, training in modes:
                m.training = training
            for p, flag in flags:
                p.requires_grad_(flag)
        return out

    return probe


def run_cell(spec: CellSpec, registry: Registry, on_error: Callable[[BaseException], None] | None = None) -> CellResult:
    """Run one cell. `on_error` sees a plugin's exception before it becomes the
    cell's `error` row (the serial executor's --pdb hooks in here)."""
    import torch

    profile = get_profile(spec.profile)
    task = registry.make("tasks", spec.task, **spec.task_params)
    model_spec = registry.make("models", spec.model, **spec.model_params)
    method = registry.make("methods", spec.method, **spec.method_params)
    reason = model_spec.compatible(task) or method.compatible(model_spec, task)
    if reason:
        return CellResult("skipped", strip_control(reason))

    result = CellResult("done")
    tctx = TrainContext(registry, task, profile, spec.seed, spec.device)
    peak_memory_reset(spec.device)
    try:
        data = task.make(profile, make_generator(spec.data_seed)).to(spec.device)
        model = model_spec.build(task, data, make_generator(derive_seed(spec.seed, "init"))).to(spec.device)
        tctx.probe = training_probe(registry, spec, task, profile, data, model, method)
        tctx.probe_steps = probe_steps(profile)
        t0 = time.perf_counter()
        model.train()
        method.train(model, data, tctx)
        result.train_time_s = time.perf_counter() - t0 - tctx.probe_time_s
        model.eval()
        model.requires_grad_(False)  # evaluation differentiates w.r.t. inputs only
        for p in model.parameters():
            if not torch.isfinite(p).all():
                raise Diverged("non-finite model parameters after training")

        t1 = time.perf_counter()
        ectx = EvalContext(registry, task, profile, spec.seed, spec.device, model=model, data=data, method=method)
        test_energy = ectx.energy(data.test.y, data.test.x)
        if not torch.isfinite(test_energy).all():
            raise Diverged("non-finite energy on test data")
        applicable = applicable_metrics(registry, task)
        # --metric narrows the set; a named metric that does not apply to this task is left out
        names = [n for n in spec.metrics if n in applicable] if spec.metrics else applicable
        result.metrics, result.metric_errors, tracebacks = _metric_values(ectx, names, registry)
        result.eval_time_s = time.perf_counter() - t1
        if tracebacks:
            result.traceback = "\n".join(tracebacks)
        try:  # arrays for the report's figures; a failure here never changes the cell's status
            from ebmbench.execution.artifacts import collect

            result.artifacts = collect(ectx, spec)
        except Exception as exc:
            print(f"report artifacts of cell {spec.cell_id} failed: {format_exception(exc)}", file=sys.stderr)
    except Diverged as exc:
        result.status, result.reason = "diverged", str(exc)
    except Exception as exc:
        if on_error is not None:
            on_error(exc)
        result.status, result.reason = "error", strip_control(f"{type(exc).__name__}: {exc}").splitlines()[0]
        result.traceback = format_exception(exc)
    result.peak_mem_mb = peak_memory_mb(spec.device)
    result.grad_evals = tctx.grad_evals
    result.curve = tctx.curve
    # reasons and tracebacks quote plugin text: no terminal control sequences in what is stored
    result.reason, result.traceback = strip_control(result.reason), strip_control(result.traceback)
    return result
