"""Selections `name[key=value,...]`, sweeps with `|`, and parameter validation
(ebmbench/params.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import ebmbench
from ebmbench.errors import UsageError
from ebmbench.params import Selection, canonical, label, parse_selection, split_selections, validate_params
from ebmbench.registry import Entry


class Tunable(ebmbench.Method):
    name = "tunable"
    family = "contrastive"
    params = {
        "steps": ebmbench.Param(20, "steps", low=1),
        "lr": ebmbench.Param(1e-3, "learning rate", low=0, high=1),
        "kind": ebmbench.Param("fast", "variant", choices=("fast", "slow")),
        "clamp": ebmbench.Param(True, "clamp"),
        "beta": ebmbench.Param(math.inf, "inverse temperature", low=1e-6),
        "sigma": ebmbench.Param(0.1, "noise std", low=0, low_open=True),
        "frac": ebmbench.Param(0.5, "fraction", low=0, high=1, high_open=True),
        "temp": ebmbench.Param(1.0, "temperature; inf = greedy", low=0, finite=False),
        "shift": ebmbench.Param(0.0, "an offset, any finite number"),
    }


ENTRY = Entry("methods", "tunable", Tunable, "test", None, None, "0" * 16)


# ------------------------------------------------------------------------- parsing
def test_parse_plain_name_and_parameters():
    assert parse_selection("pcd") == [Selection("pcd")]
    assert parse_selection(" pcd[] ") == [Selection("pcd")]
    (sel,) = parse_selection("pcd[steps=20,lr=1e-3]")
    assert sel.name == "pcd" and sel.params == {"steps": "20", "lr": "1e-3"}
    (sel,) = parse_selection("pcd[ steps = 20 , lr=1e-3 ]")
    assert sel.params == {"steps": "20", "lr": "1e-3"}


def test_sweeps_expand_to_the_cartesian_product():
    sels = parse_selection("dsm[sigma=0.05|0.1|0.2,lr=1e-3|1e-4]")
    assert len(sels) == 6
    combos = {(s.params["sigma"], s.params["lr"]) for s in sels}
    assert combos == {(a, b) for a in ("0.05", "0.1", "0.2") for b in ("1e-3", "1e-4")}
    assert all(s.name == "dsm" for s in sels)
    assert len(set(sels)) == 6  # hashable and distinct


def test_split_on_commas_outside_brackets_only():
    assert split_selections(["pcd[steps=20,lr=1e-3],dsm", "kmeans"]) == ["pcd[steps=20,lr=1e-3]", "dsm", "kmeans"]
    assert split_selections(["a[x=1|2],b[y=3,z=4],c"]) == ["a[x=1|2]", "b[y=3,z=4]", "c"]
    assert split_selections([" pcd , ,dsm "]) == ["pcd", "dsm"]


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("pcd[steps]", "expected key=value"),
        ("pcd[steps=1,steps=2]", "given twice"),
        ("pcd steps=1", "cannot parse"),
        ("pcd[steps=1", "cannot parse"),
    ],
)
def test_malformed_selections(text, fragment):
    with pytest.raises(UsageError, match=fragment):
        parse_selection(text)


# ---------------------------------------------------------------------- validation
def test_validate_converts_types():
    out = validate_params(ENTRY, {"steps": "7", "lr": "0.5", "kind": "slow", "clamp": "false", "beta": "inf"})
    assert out == {"steps": 7, "lr": 0.5, "kind": "slow", "clamp": False, "beta": math.inf}
    assert type(out["steps"]) is int and type(out["lr"]) is float
    assert validate_params(ENTRY, {"lr": 1}) == {"lr": 1.0}  # ints are fine for floats in code
    assert validate_params(ENTRY, {}) == {}


def test_unknown_parameter_lists_what_is_allowed():
    with pytest.raises(UsageError) as exc:
        validate_params(ENTRY, {"stpes": "3"})
    msg = str(exc.value)
    assert "'stpes'" in msg and "allowed:" in msg
    for name in Tunable.params:
        assert name in msg
    assert "one of fast, slow" in msg and "[1, inf]" in msg


@pytest.mark.parametrize(
    "raw,fragment",
    [
        ({"steps": "abc"}, "expects int"),
        ({"steps": "2.5"}, "expects int"),
        ({"lr": "fast"}, "expects float"),
        ({"clamp": "maybe"}, "expects bool"),
        ({"steps": 2.5}, "expects int"),
    ],
)
def test_wrong_type(raw, fragment):
    with pytest.raises(UsageError, match=fragment):
        validate_params(ENTRY, raw)


@pytest.mark.parametrize("raw", [{"steps": "0"}, {"lr": "-1e-3"}, {"lr": "2"}, {"lr": "nan"}, {"beta": "0"}])
def test_out_of_range(raw):
    with pytest.raises(UsageError, match=r"must be .* in \["):
        validate_params(ENTRY, raw)


def test_bounds_are_inclusive():
    assert validate_params(ENTRY, {"steps": "1", "lr": "0", "beta": "1e-6"}) == {"steps": 1, "lr": 0.0, "beta": 1e-6}
    assert validate_params(ENTRY, {"lr": "1"}) == {"lr": 1.0}


def test_bad_choice():
    with pytest.raises(UsageError, match="must be one of fast, slow, got 'medium'"):
        validate_params(ENTRY, {"kind": "medium"})


def test_registry_make_validates():
    from ebmbench.registry import LoadConfig, load_registry

    reg = load_registry(LoadConfig())
    assert reg.make("methods", "pcd", steps="5").p["steps"] == 5
    with pytest.raises(UsageError, match="allowed:"):
        reg.make("methods", "pcd", stpes="5")
    with pytest.raises(UsageError, match="reinit"):
        reg.make("methods", "pcd", reinit="2")


def test_canonical_and_label_are_order_independent():
    assert canonical({"b": 1, "a": 0.5}) == canonical({"a": 0.5, "b": 1}) == '{"a":0.5,"b":1}'
    assert label("pcd", {}) == "pcd"
    assert label("pcd", {"steps": 5, "lr": 0.1}) == "pcd[lr=0.1,steps=5]"


# ------------------------------------------------------------ exclusive and finite bounds
@pytest.mark.parametrize(
    "raw,fragments",
    [
        ({"sigma": "0"}, ("sigma", "float in (0, inf)", "got 0.0", "too small")),
        ({"sigma": "inf"}, ("sigma", "float in (0, inf)", "got inf", "not finite")),
        ({"sigma": "-inf"}, ("sigma", "not finite")),
        ({"sigma": "1e400"}, ("sigma", "got inf", "not finite")),  # overflows to inf
        ({"sigma": "nan"}, ("sigma", "not a number")),
        ({"frac": "1"}, ("frac", "float in [0, 1)", "too large")),
        ({"lr": "inf"}, ("lr", "not finite")),
        ({"shift": "inf"}, ("shift", "float (finite)", "not finite")),
        ({"temp": "nan"}, ("temp", "not a number")),  # finite=False allows inf, never nan
    ],
)
def test_exclusive_and_finite_bounds_say_what_is_allowed(raw, fragments):
    with pytest.raises(UsageError) as exc:
        validate_params(ENTRY, raw)
    for fragment in fragments:
        assert fragment in str(exc.value), (fragment, str(exc.value))


def test_values_inside_open_bounds_and_declared_infinities_pass():
    out = validate_params(ENTRY, {"sigma": "1e-12", "frac": "0", "temp": "inf", "beta": "inf", "shift": "-3"})
    assert out == {"sigma": 1e-12, "frac": 0.0, "temp": math.inf, "beta": math.inf, "shift": -3.0}


def test_describe_uses_interval_notation():
    p = Tunable.params
    assert p["sigma"].describe() == "float in (0, inf)"  # a finite float: inf is not in the range
    assert p["frac"].describe() == "float in [0, 1)"
    assert p["steps"].describe() == "int in [1, inf]"
    assert p["beta"].describe() == "float in [1e-06, inf]"  # its default is inf: inf is allowed
    assert p["temp"].describe() == "float in [0, inf]"
    assert p["shift"].describe() == "float (finite)"


@pytest.fixture(scope="module")
def builtins():
    from ebmbench.registry import LoadConfig, load_registry

    return load_registry(LoadConfig())


def test_every_builtin_default_is_inside_its_own_bounds(builtins):
    """A declared bound that excludes the default would make the entry unusable as is."""
    for kind in ("tasks", "models", "methods", "samplers", "metrics"):
        for name in builtins.names(kind):
            for key, p in builtins.get(kind, name).cls.params.items():
                if isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
                    assert p.violation(p.default) is None, (kind, name, key, p.describe(), p.default)


@pytest.mark.parametrize(
    "kind,name,params,fragment",
    [
        ("methods", "dsm", {"sigma": "0"}, "sigma"),
        ("methods", "dsm", {"sigma": "inf"}, "sigma"),
        ("methods", "dsm_multi", {"sigma_min": "0"}, "sigma_min"),
        ("methods", "dsm_multi", {"sigma_max": "0"}, "sigma_max"),
        ("methods", "dae", {"sigma": "0"}, "sigma"),
        ("methods", "pcd", {"step": "-0.01"}, "step"),  # 0 is "auto"
        ("methods", "pcd", {"lr": "0"}, "lr"),
        ("methods", "hmc_ml", {"step": "0"}, "step"),
        ("samplers", "langevin", {"step": "0"}, "step"),
        ("samplers", "mala", {"step": "inf"}, "step"),
    ],
)
def test_builtin_meaningless_values_are_rejected(builtins, kind, name, params, fragment):
    with pytest.raises(UsageError, match=fragment):
        builtins.make(kind, name, **params)


def test_builtin_infinite_temperatures_stay_allowed(builtins):
    assert builtins.make("methods", "latent_ml", beta="inf").p["beta"] == math.inf
    assert builtins.make("models", "kmeans", beta="inf").p["beta"] == math.inf


def test_task_parameters_reach_the_task_and_the_results(tmp_path):
    """`-t "scaled[scale=2.5]"` builds the task with scale 2.5 (it used to be validated and
    then built with its defaults), names it so in the results, records the parameters, and
    keeps the default task's seeds and cells unchanged."""
    import json

    import pandas as pd
    from support import invoke, only_run

    plugins = Path(__file__).parent / "fixtures" / "taskparams"
    common = ["--plugins-dir", plugins, "-m", "kmeans", "-M", "kmeans", "--profile", "smoke", "--seeds", "1"]
    tasks = ["-t", "scaled[scale=2.5],scaled", "--metric", "data_scale"]
    r = invoke("run", *common, *tasks, "--no-report", "--out", tmp_path)
    assert r.exit_code == 0, r.stderr
    run = only_run(tmp_path)
    df = pd.read_parquet(run / "results.parquet").set_index("task")
    assert df.loc["scaled[scale=2.5]", "data_scale"] == pytest.approx(2.5, rel=0.1)
    assert df.loc["scaled", "data_scale"] == pytest.approx(1.0, rel=0.1)
    assert json.loads(df.loc["scaled[scale=2.5]", "task_params"]) == {"scale": 2.5}
    assert json.loads(df.loc["scaled", "task_params"]) == {}
    assert df.loc["scaled[scale=2.5]", "data_seed"] != df.loc["scaled", "data_seed"]
    meta = json.loads((run / "run.json").read_text())
    assert meta["main_metrics"]["scaled[scale=2.5]"] == "data_scale"
    shown = invoke("show", run.name, "--out", tmp_path)
    assert "scaled[scale=2.5] — ranked by data_scale" in shown.stdout
