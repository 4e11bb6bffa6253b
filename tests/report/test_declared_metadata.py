"""The report draws by what plugins declare (recorded in run.json), never by a built-in
name: the curve-probe panels, the Fβ sweep's parameter, the note below zero of an
unbiased metric and the shape of gallery images (ebmbench/report/data.py)."""

from __future__ import annotations

import copy
import json

import pytest
from test_honest import FAMILIES, draw

from ebmbench.report.data import RunData, load_run


@pytest.fixture(scope="module")
def run(synthetic_run):
    return load_run(synthetic_run)


def with_meta(run, change, df=None, curves=None) -> RunData:
    """The run (its toy task unless `df` says otherwise) with run.json edited by `change(meta)`
    (families given: no registry load)."""
    meta = copy.deepcopy(run.meta)
    change(meta)
    df = run.df[run.df["task"] == "toy"] if df is None else df
    out = RunData(run.run_dir, meta, df, run.curves if curves is None else curves)
    out.__dict__["families"] = {m: FAMILIES.get(m, "other") for m in set(df["method"])}
    return out


def _probe_curves(run, names):
    """The toy task's curves plus held-out curves `names` (a copy of the loss, renamed)."""
    import pandas as pd

    toy = run.curves[run.curves["task"] == "toy"]
    loss = toy[toy["name"] == "loss"]
    return pd.concat([toy, *[loss.assign(name=n) for n in names]], ignore_index=True)


def test_core_panels_are_the_recorded_curve_probes(run, tmp_path):
    curves = _probe_curves(run, ["val_my_probe", "val_mmd2"])
    recorded = with_meta(run, lambda m: m.setdefault("grid", {}).update(curve_metrics=["my_probe"]), curves=curves)
    assert recorded.core_curves == ["val_my_probe", "loss", "energy_gap", "grad_norm"]
    caption = draw(recorded, "training_curves", tmp_path / "a").figures[0].caption
    assert caption.startswith("Held-out my_probe on the validation split, loss and energy gap, then")
    # a run that does not record its probes: the val_ curves named after one of its metric columns
    legacy = with_meta(run, lambda m: m.pop("grid", None), curves=_probe_curves(run, ["val_mmd2", "val_not_a_metric"]))
    assert legacy.curve_probes == ["val_mmd2"]
    none = with_meta(run, lambda m: m.setdefault("grid", {}).update(curve_metrics=[]), curves=curves)
    assert none.core_curves == ["loss", "energy_gap", "grad_norm"]
    caption = draw(none, "training_curves", tmp_path / "b").figures[0].caption
    assert caption.startswith("Loss and energy gap, then each method's own diagnostics")


def _rename_beta(df, to: str):
    def rename(params):
        p = json.loads(params)
        return json.dumps({to if k == "beta" else k: v for k, v in p.items()})

    return df.assign(model_params=df["model_params"].map(rename))


def test_beta_sweep_follows_the_declared_parameter(run, tmp_path):
    toy = run.df[run.df["task"] == "toy"]

    def declare(name):
        return lambda m: m["entries"]["models"]["kmeans"].update(inverse_temperature_param=name)

    renamed = with_meta(run, declare("inv_temp"), df=_rename_beta(toy, "inv_temp"))
    assert renamed.temperature_params["models"] == {"kmeans": "inv_temp"}
    assert [f.name for f in draw(renamed, "beta_sweep", tmp_path / "a").figures] == ["beta-sweep-toy"]
    # a parameter named beta that no class declares is just a parameter
    undeclared = with_meta(run, declare(None), df=toy)
    assert undeclared.temperature_params == {"models": {}, "methods": {}}
    assert draw(undeclared, "beta_sweep", tmp_path / "b").figures == []


def test_negative_note_follows_the_declared_metric(run):
    df = run.df.copy()
    df.loc[(df["task"] == "toy") & (df["label"] == "mlp/pcd"), ["mmd2", "auroc"]] = -0.004

    def flag_auroc_not_mmd2(meta):
        meta["entries"]["metrics"] = {"auroc": {"plugin": "p", "unbiased_nonnegative": True}, "mmd2": {"plugin": "q"}}

    v = with_meta(run, flag_auroc_not_mmd2, df=df)
    assert v.unbiased == ["auroc"]
    assert v.negatives("mmd2") == [] and v.negatives("auroc", "toy") == ["mlp/pcd"]


def test_image_shape_is_the_declared_one(run):
    assert run.image_shape("digits", {"image_shape": [4, 16]}) == (8, 8)  # run.json: the task's declaration
    assert run.image_shape("digits-inpaint", {"image_shape": [4, 16]}) == (4, 16)  # not recorded: the arrays


def test_a_run_recorded_before_the_metadata_asks_the_installed_plugins(run):
    """Older run.json files lack the fields: the installed registry's declaration of the same
    entry is used (built in: the kmeans model declares beta), never a guess from a name."""

    def drop(meta):
        meta["entries"].pop("models")
        meta["entries"].pop("metrics")

    old = with_meta(run, drop)
    assert old.temperature_params["models"] == {"kmeans": "beta"}
    assert old.unbiased == ["mmd2"]
