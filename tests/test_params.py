"""Selections `name[key=value,...]`, sweeps with `|`, and parameter validation
(ebmbench/params.py)."""

from __future__ import annotations

import math

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
