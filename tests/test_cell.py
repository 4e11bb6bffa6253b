"""The training probe of a cell (ebmbench/execution/cell.py, ebmbench/context.py): held-out
metrics on the training curve, checked against a direct computation, and shown not to
change training or the final numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.special import logsumexp
from support import SMOKE, assert_usage_error, invoke, only_run

import ebmbench
from ebmbench.execution.cell import run_cell
from ebmbench.executor_api import CellSpec
from ebmbench.profiles import PROFILES, Profile, probe_steps
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.seeding import make_generator


class LogOnly(ebmbench.Method):
    """Logs without training: the model keeps its initial weights, so every probe of the
    curve must equal the NLL of the initial model."""

    name = "log_only"
    family = "contrastive"
    model_families = frozenset({"neural"})
    task_kinds = frozenset({"unconditional"})
    summary = "logs a constant every 10 steps and at the last"

    def train(self, model, data, ctx):
        last = ctx.profile.train_steps - 1
        for step in [*range(0, last, 10), last]:
            ctx.log(step, loss=0.0)


def _plugin():
    def ebmbench_register_methods(register):
        register(LogOnly)

    return type("P", (), {"ebmbench_register_methods": staticmethod(ebmbench.hookimpl(ebmbench_register_methods))})


@pytest.fixture(scope="module")
def registry():
    return load_registry(LoadConfig(), extra_plugins=(("log_only", _plugin()),))


def spec(method: str, curve_metrics=("nll_grid",), task: str = "8gaussians") -> CellSpec:
    return CellSpec(
        cell_id="c",
        task=task,
        model="mlp",
        model_params={},
        method=method,
        method_params={},
        rep=0,
        seed=123,
        data_seed=7,
        profile="smoke",
        curve_metrics=curve_metrics,
        metrics=("nll_grid", "energy_gap", "mmd2", "completion"),
    )


def test_probe_steps_span_training_evenly():
    assert probe_steps(dataclasses.replace(PROFILES["smoke"], curve_probes=3)) == (0, 74, 149)
    assert probe_steps(dataclasses.replace(PROFILES["full"], curve_probes=20))[-1] == 7999
    assert len(probe_steps(PROFILES["full"])) == PROFILES["full"].curve_probes
    assert probe_steps(dataclasses.replace(PROFILES["quick"], curve_probes=0)) == ()
    assert probe_steps(dataclasses.replace(PROFILES["quick"], curve_probes=1)) == (599,)
    assert all(isinstance(p, Profile) and p.curve_probes >= 0 for p in PROFILES.values())


def test_probe_equals_grid_nll_of_the_model_on_the_val_split(registry):
    from ebmbench_plugins.tasks.grid import cell_area, grid_points

    result = run_cell(spec("log_only"), registry)
    assert result.status == "done", result.reason
    probes = [(row["step"], row["val_nll_grid"]) for row in result.curve if "val_nll_grid" in row]
    # probes fall at steps 0, 74 and 149; one waits for the method's next log call, so
    # the probe due at 74 is taken at the log of step 80
    assert probe_steps(PROFILES["smoke"]) == (0, 74, 149)
    assert [s for s, _ in probes] == [0, 80, 149]
    # the untouched initial model, rebuilt and scored directly with NumPy/SciPy
    task = registry.make("tasks", "8gaussians")
    data = task.make(PROFILES["smoke"], make_generator(7))
    from ebmbench.seeding import derive_seed

    model = registry.make("models", "mlp").build(task, data, make_generator(derive_seed(123, "init")))
    with torch.no_grad():
        e_grid = model(grid_points()).double().numpy()
        e_val = model(data.val.y).double().numpy()
    expected = e_val.mean() + logsumexp(-e_grid) + np.log(cell_area())
    for _, value in probes:
        assert value == pytest.approx(expected, rel=1e-9)
    # val, not test: the final metric is on the test split and differs
    assert result.metrics["nll_grid"] != pytest.approx(expected, rel=1e-9)


def test_probe_changes_neither_training_nor_final_metrics(registry):
    with_probe = run_cell(spec("exact_ml"), registry)
    without = run_cell(spec("exact_ml", curve_metrics=()), registry)
    assert with_probe.status == without.status == "done"
    assert with_probe.metrics.keys() == without.metrics.keys()
    timing = {"ess_per_s", "samples_per_s"}
    for name, value in without.metrics.items():
        if name not in timing:
            assert with_probe.metrics[name] == value or (np.isnan(value) and np.isnan(with_probe.metrics[name])), name

    def method_values(curve):
        return [{k: v for k, v in row.items() if k != "time_s" and not k.startswith("val_")} for row in curve]

    assert method_values(with_probe.curve) == method_values(without.curve)
    assert sum("val_nll_grid" in row for row in with_probe.curve) == PROFILES["smoke"].curve_probes
    assert not any("val_nll_grid" in row for row in without.curve)


def test_sample_based_probe_metrics_work_and_leave_training_alone(registry):
    """mmd2 needs the method's sampler: the probe has it, and its draws come from the
    probe's own generators, so training is unchanged."""
    with_probe = run_cell(spec("pcd", curve_metrics=("mmd2",)), registry)
    without = run_cell(spec("pcd", curve_metrics=()), registry)
    values = [row["val_mmd2"] for row in with_probe.curve if "val_mmd2" in row]
    assert len(values) == PROFILES["smoke"].curve_probes and all(np.isfinite(values))
    assert with_probe.metrics["mmd2"] == without.metrics["mmd2"]
    assert with_probe.metrics["nll_grid"] == without.metrics["nll_grid"]


def test_probe_leaves_modes_requires_grad_and_gradients_alone(registry):
    """An inference metric descends with backward(): the probe must not add to the
    parameters' .grad (a method may step on it next) nor change modes or flags."""
    from ebmbench.execution.cell import training_probe

    task = registry.make("tasks", "8gaussians")
    data = task.make(PROFILES["smoke"], make_generator(7))
    model = registry.make("models", "mlp").build(task, data, make_generator(1))
    params = list(model.parameters())
    for i, p in enumerate(params):
        p.grad = torch.full_like(p, float(i))
    params[0].requires_grad_(False)  # a frozen part stays frozen
    model.train()
    probe = training_probe(
        registry,
        spec("exact_ml", curve_metrics=("completion", "nll_grid")),
        task,
        PROFILES["smoke"],
        data,
        model,
        registry.make("methods", "exact_ml"),
    )
    out = probe()
    assert set(out) == {"val_completion", "val_nll_grid"}
    assert model.training and all(m.training for m in model.modules())
    assert [p.requires_grad for p in params] == [False] + [True] * (len(params) - 1)
    for i, p in enumerate(params):
        assert torch.equal(p.grad, torch.full_like(p, float(i)))


def test_a_failing_probe_metric_is_reported_once_and_skipped(registry, capsys, monkeypatch):
    from ebmbench_plugins.metrics.density import NLLGrid

    monkeypatch.setattr(NLLGrid, "compute", lambda self, ctx: 1 / 0)
    result = run_cell(spec("log_only", curve_metrics=("nll_grid",)), registry)
    assert not any("val_nll_grid" in row for row in result.curve)
    err = capsys.readouterr().err
    assert err.count("curve probe nll_grid of cell c failed: ZeroDivisionError") == 1


def test_probe_skips_tasks_the_metric_does_not_apply_to(registry):
    result = run_cell(spec("dsm", task="horn"), registry)  # conditional: no grid NLL
    assert result.status == "done", result.reason
    assert not any(k.startswith("val_") for row in result.curve for k in row)


def test_cli_curve_metric_none_and_unknown(tmp_path):
    r = invoke("run", *SMOKE, "--out", tmp_path, "--curve-metric", "none")
    assert r.exit_code == 0, r.output
    curves = pd.read_parquet(only_run(tmp_path) / "curves.parquet")
    assert not curves.empty and not curves["name"].str.startswith("val_").any()
    assert_usage_error(invoke("run", *SMOKE, "--out", tmp_path / "x", "--curve-metric", "nll_gird"), "nll_grid")
