"""Suites (issue 10): the `Suite` / `SuiteGroup` contract and its validation at registration
(ebmbench/suite_api.py, registry._validate), `plan_suite` (ebmbench/execution/plan.py),
`run --suite` and `list suites` (ebmbench/cli.py).

Test suites are registered by in-test plugin objects (`load_registry(extra_plugins=...)`)
or, for the CLI, by a plugin file under `tmp_path` passed with `--plugins-dir`. Planning
runs nothing; the one real run uses the cheapest cells (K-means, PCA) at the smoke budget.
"""

from __future__ import annotations

import json
import textwrap
from types import SimpleNamespace

import pytest
from support import assert_usage_error, invoke

import ebmbench
from ebmbench import Suite, SuiteGroup
from ebmbench.errors import UsageError
from ebmbench.execution.plan import RunConfig, plan_suite
from ebmbench.registry import LoadConfig, load_registry

WIDE = {"COLUMNS": "250"}


def suite_plugin(*classes):
    """A plugin object whose suites hook registers `classes`."""

    @ebmbench.hookimpl
    def ebmbench_register_suites(register):
        for cls in classes:
            register(cls)

    return SimpleNamespace(ebmbench_register_suites=ebmbench_register_suites)


def registry_with(*classes):
    """The built-ins plus one plugin per suite class (named after the suite)."""
    return load_registry(LoadConfig(), extra_plugins=tuple((c.name, suite_plugin(c)) for c in classes))


def plugin_info(registry, name):
    (info,) = [p for p in registry.plugins if p.name == name]
    return info


def planned(registry, suite):
    """plan_suite as `run --suite` calls it: the suite's profile is the run's profile."""
    cfg = RunConfig(suite=suite, profile=registry.get("suites", suite).cls.profile)
    return cfg, plan_suite(registry, cfg)


# ------------------------------------------------------------------ test suites
class MixedSuite(Suite):
    """Per-group seeds and profiles, a cell two groups share, status-only groups, a skipped pair."""

    name = "t-mixed"
    version = 3
    profile = "smoke"
    summary = "per-group seeds and profiles"
    metrics = ("mmd2",)
    tolerances = {"nll_grid": (0.1, 0.0)}
    groups = (
        SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=3, profile="quick"),
        SuiteGroup(("8gaussians", "rings"), ("linear",), ("pca",), seeds=2),
        SuiteGroup(("rings",), ("linear",), ("pca",)),  # rep 0 of group 1: the same cell
        SuiteGroup(("rings", "moons"), ("kmeans",), ("kmeans",), judge_metrics=False),
        SuiteGroup(("horn",), ("kmeans",), ("kmeans",), seeds=3),  # no conditional K-means: skipped
    )


class CrossSuite(Suite):
    name = "t-cross"
    summary = "one group, crossed"
    groups = (SuiteGroup(("8gaussians", "rings"), ("kmeans", "linear"), ("kmeans", "pca"), seeds=2),)


class TypoSuite(Suite):
    name = "t-typo"
    summary = "a misspelled method in its second group"
    groups = (
        SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",)),
        SuiteGroup(("8gaussians",), ("linear",), ("pcaa",)),
    )


class BadParamSuite(Suite):
    name = "t-badparam"
    summary = "a parameter the method does not have"
    groups = (SuiteGroup(("8gaussians",), ("linear",), ("pca[bogus=1]",)),)


class UnparsableSuite(Suite):
    name = "t-unparsable"
    summary = "a selection string that does not parse"
    groups = (SuiteGroup(("8gaussians",), ("linear",), ("pca[",)),)


class OverlapSuite(Suite):
    """The same pair judged with 4 seeds and also listed, once, in a coverage group."""

    name = "t-overlap"
    summary = "a judged pair also in a status-only group"
    groups = (
        SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=4),
        SuiteGroup(("8gaussians",), ("kmeans", "linear"), ("kmeans", "pca"), judge_metrics=False),
    )


class TwoProfilesSuite(Suite):
    """The same pair at the quick budget (judged) and at the smoke budget (coverage)."""

    name = "t-twoprofiles"
    summary = "one pair at two budgets"
    groups = (
        SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=2, profile="quick"),
        SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), judge_metrics=False),
    )


VALID = (MixedSuite, CrossSuite, TypoSuite, BadParamSuite, UnparsableSuite, OverlapSuite, TwoProfilesSuite)


@pytest.fixture(scope="module")
def registry():
    return registry_with(*VALID)


# ------------------------------------------------------------------ registration
def test_valid_suites_register_with_their_declaration(registry):
    assert {c.name for c in VALID} <= set(registry.names("suites"))
    assert "ci" in registry.names("suites")  # the built-in, registered the same way
    for cls in VALID:
        assert plugin_info(registry, cls.name).status == "loaded"
        assert plugin_info(registry, cls.name).entries == [f"suites:{cls.name}"]
    info = registry.get("suites", "t-mixed").describe()
    assert (info["name"], info["suite_version"], info["profile"], info["metrics"]) == ("t-mixed", 3, "smoke", ["mmd2"])
    assert info["groups"][0] == {
        "tasks": ["8gaussians"],
        "models": ["kmeans"],
        "methods": ["kmeans"],
        "seeds": 3,
        "profile": "quick",
        "judge_metrics": True,
    }
    assert [g["judge_metrics"] for g in info["groups"]] == [True, True, True, False, True]
    assert MixedSuite.to_json()["tolerances"] == {"nll_grid": [0.1, 0.0]}


def _suite(name="t-bad", **attrs):
    attrs.setdefault("groups", (SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",)),))
    return type("BadSuite", (Suite,), {"name": name, "summary": "bad", **attrs})


@pytest.mark.parametrize(
    "attrs,fragments",
    [
        ({"groups": ()}, ("groups is empty",)),
        ({"profile": "fast"}, ("profile must be one of smoke, quick, full", "'fast'")),
        ({"version": 0}, ("version must be an integer >= 1",)),
        ({"groups": (SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=0),)}, ("groups[0].seeds", ">= 1")),
        ({"groups": (SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=2.5),)}, ("groups[0].seeds",)),
        (
            {"groups": (SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), profile="turbo"),)},
            ("groups[0].profile must be one of", "'turbo'"),
        ),
        ({"tolerances": {"nll_grid": (-0.1, 0.0)}}, ("tolerances['nll_grid']", "(relative, absolute) >= 0")),
        ({"tolerances": {"nll_grid": (0.1,)}}, ("tolerances['nll_grid']",)),
        ({"tolerances": {"nll_grid": "0.1"}}, ("tolerances['nll_grid']",)),
        ({"tolerances": {"nll_grid": (True, 0.0)}}, ("tolerances['nll_grid']",)),
        ({"groups": (("8gaussians", "kmeans", "kmeans"),)}, ("groups[0] must be an ebmbench.SuiteGroup", "tuple")),
        (
            {
                "groups": (
                    SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",)),
                    {"tasks": ("8gaussians",)},
                )
            },
            ("groups[1] must be an ebmbench.SuiteGroup", "dict"),
        ),
        ({"groups": (SuiteGroup((), ("kmeans",), ("kmeans",)),)}, ("groups[0].tasks must be a non-empty tuple",)),
        ({"groups": (SuiteGroup("8gaussians", ("kmeans",), ("kmeans",)),)}, ("groups[0].tasks",)),
        ({"groups": (SuiteGroup(("8gaussians",), ("kmeans", ""), ("kmeans",)),)}, ("groups[0].models",)),
    ],
)
def test_invalid_suite_fails_its_plugin_with_one_line_naming_suite_and_field(attrs, fragments):
    reg = load_registry(
        LoadConfig(), extra_plugins=(("bad", suite_plugin(_suite(**attrs))), ("good", suite_plugin(CrossSuite)))
    )
    info = plugin_info(reg, "bad")
    assert info.status == "failed" and info.entries == []
    assert "\n" not in info.error
    assert "suite 't-bad'" in info.error
    for fragment in fragments:
        assert fragment in info.error, (fragment, info.error)
    assert "t-bad" not in reg.names("suites")
    assert plugin_info(reg, "good").status == "loaded" and "t-cross" in reg.names("suites")  # costs only itself


def test_every_problem_of_a_suite_is_named_in_the_one_line():
    bad = _suite(profile="fast", groups=(SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=0),))
    info = plugin_info(load_registry(LoadConfig(), extra_plugins=(("bad", suite_plugin(bad)),)), "bad")
    assert info.status == "failed" and "\n" not in info.error
    assert "profile must be one of" in info.error and "groups[0].seeds" in info.error


def test_a_suite_must_subclass_suite():
    class NotASuite:
        name = "t-nosuite"

    info = plugin_info(load_registry(LoadConfig(), extra_plugins=(("bad", suite_plugin(NotASuite)),)), "bad")
    assert info.status == "failed" and "ebmbench.Suite" in info.error


def test_groups_given_as_one_group_not_a_tuple_is_named():
    bad = _suite(groups=SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",)))
    info = plugin_info(load_registry(LoadConfig(), extra_plugins=(("bad", suite_plugin(bad)),)), "bad")
    assert info.status == "failed"
    assert "suite 't-bad'" in info.error and "groups" in info.error, info.error


@pytest.mark.parametrize("tolerances", [["nll_grid"], None])
def test_tolerances_that_are_not_a_mapping_are_named(tolerances):
    info = plugin_info(
        load_registry(LoadConfig(), extra_plugins=(("bad", suite_plugin(_suite(tolerances=tolerances))),)), "bad"
    )
    assert info.status == "failed"
    assert "suite 't-bad'" in info.error and "tolerances" in info.error, info.error


def test_metrics_given_as_a_string_is_refused():
    reg = load_registry(LoadConfig(), extra_plugins=(("bad", suite_plugin(_suite(metrics="nll_grid"))),))
    info = plugin_info(reg, "bad")
    assert info.status == "failed" and "metrics" in (info.error or ""), reg.get("suites", "t-bad").describe()


# ------------------------------------------------------------------ the CLI: list suites
def _write_plugin(folder, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suites_here.py").write_text(textwrap.dedent(body))
    return folder


GOOD_FILE = """
    from ebmbench import Suite, SuiteGroup, hookimpl

    class Mini(Suite):
        name = "mini"
        version = 2
        profile = "smoke"
        summary = "two seeds of K-means, a shared cell, PCA on its status only"
        groups = (
            SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=2),
            SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",)),
            SuiteGroup(("8gaussians",), ("linear",), ("pca",), judge_metrics=False),
        )

    @hookimpl
    def ebmbench_register_suites(register):
        register(Mini)
"""

BAD_FILE = """
    from ebmbench import Suite, SuiteGroup, hookimpl

    class Broken(Suite):
        name = "broken"
        summary = "seeds 0"
        groups = (SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=0),)

    @hookimpl
    def ebmbench_register_suites(register):
        register(Broken)
"""


def test_list_suites_json_shows_a_plugin_suite(tmp_path):
    plugins = _write_plugin(tmp_path / "plugins", GOOD_FILE)
    r = invoke("list", "suites", "--json", "--plugins-dir", plugins)
    assert r.exit_code == 0, r.stderr
    suites = {s["name"]: s for s in json.loads(r.stdout)}
    assert {"ci", "mini"} <= set(suites)
    mini = suites["mini"]
    assert (mini["suite_version"], mini["profile"], mini["plugin"]) == (2, "smoke", "suites_here")
    assert [g["seeds"] for g in mini["groups"]] == [2, 1, 1]
    assert mini["groups"][2] == {
        "tasks": ["8gaussians"],
        "models": ["linear"],
        "methods": ["pca"],
        "seeds": 1,
        "profile": None,
        "judge_metrics": False,
    }
    assert mini["source_hash"] and mini["summary"].startswith("two seeds")
    table = invoke("list", "suites", "--plugins-dir", plugins, env=WIDE)
    assert table.exit_code == 0 and "mini" in table.stdout and "ci" in table.stdout


def test_a_broken_suite_file_is_a_failed_plugin_and_not_listed(tmp_path):
    plugins = _write_plugin(tmp_path / "plugins", BAD_FILE)
    r = invoke("plugins", "--json", "--plugins-dir", plugins)
    assert r.exit_code == 0, r.stderr
    (info,) = [p for p in json.loads(r.stdout) if p["name"] == "suites_here"]
    assert info["status"] == "failed" and "\n" not in info["error"]
    assert "suite 'broken'" in info["error"] and "groups[0].seeds" in info["error"]
    listed = json.loads(invoke("list", "suites", "--json", "--plugins-dir", plugins).stdout)
    assert "broken" not in {s["name"] for s in listed}
    strict = invoke("list", "suites", "--plugins-dir", plugins, "--strict-plugins")
    assert_usage_error(strict, "suites_here", "groups[0].seeds")


# ------------------------------------------------------------------ plan_suite
def test_plan_suite_uses_each_groups_seeds_profile_and_runs_shared_cells_once(registry):
    cfg, cells = planned(registry, "t-mixed")
    got = sorted((c.spec.task, c.label, c.spec.rep, c.spec.profile, c.skip_reason is not None) for c in cells)
    assert got == sorted(
        [
            *(("8gaussians", "kmeans/kmeans", rep, "quick", False) for rep in range(3)),
            *((task, "linear/pca", rep, "smoke", False) for task in ("8gaussians", "rings") for rep in range(2)),
            ("rings", "kmeans/kmeans", 0, "smoke", False),
            ("moons", "kmeans/kmeans", 0, "smoke", False),
            ("horn", "kmeans/kmeans", 0, "smoke", True),  # skipped: recorded once, not 3 times
        ]
    )
    assert len({c.spec.cell_key for c in cells}) == len(cells) == 10
    assert cfg.status_only == ("moons kmeans/kmeans", "rings kmeans/kmeans")


def test_a_shared_cell_is_the_same_cell_as_in_a_grid_of_its_own(registry):
    """Group 2 of t-mixed adds nothing: rings linear/pca rep 0 is group 1's cell (same key)."""
    _, cells = planned(registry, "t-mixed")
    rings_pca = [c for c in cells if (c.spec.task, c.label) == ("rings", "linear/pca")]
    assert sorted(c.spec.rep for c in rings_pca) == [0, 1]
    from ebmbench.execution.plan import plan
    from ebmbench.params import Selection

    alone = plan(
        registry,
        RunConfig(
            tasks=[Selection("rings", {})],
            models=[Selection("linear", {})],
            methods=[Selection("pca", {})],
            seeds=1,
            profile="smoke",
        ),
    )
    assert alone[0].spec.cell_key in {c.spec.cell_key for c in rings_pca}


def test_plan_suite_crosses_tasks_models_and_methods(registry):
    cfg, cells = planned(registry, "t-cross")
    pairs = {(c.spec.task, c.label): c for c in cells}
    assert set(pairs) == {
        (t, f"{m}/{h}") for t in ("8gaussians", "rings") for m in ("kmeans", "linear") for h in ("kmeans", "pca")
    }
    for (_, label), cell in pairs.items():
        compatible = label in ("kmeans/kmeans", "linear/pca")
        assert (cell.skip_reason is None) == compatible
        n = sum(1 for c in cells if (c.spec.task, c.label) == (cell.spec.task, label))
        assert n == (2 if compatible else 1)
    assert {c.spec.profile for c in cells} == {"smoke"}  # the suite's own profile
    assert cfg.status_only == ()


def test_unknown_method_in_a_suite_names_suite_and_group(registry):
    with pytest.raises(UsageError) as err:
        planned(registry, "t-typo")
    text = str(err.value)
    assert "suite 't-typo' groups[1]" in text and "unknown method 'pcaa'" in text and "did you mean 'pca'" in text


@pytest.mark.parametrize(
    "suite,fragments",
    [
        ("t-badparam", ("suite 't-badparam' groups[0]", "bogus")),
        ("t-unparsable", ("suite 't-unparsable' groups[0].methods", "cannot parse 'pca['")),
    ],
)
def test_bad_selections_in_a_suite_name_suite_and_group(registry, suite, fragments):
    with pytest.raises(UsageError) as err:
        planned(registry, suite)
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))


def test_a_pair_judged_by_one_group_stays_judged_when_a_coverage_group_repeats_it(registry):
    cfg, cells = planned(registry, "t-overlap")
    assert sorted(c.spec.rep for c in cells if c.label == "kmeans/kmeans") == [0, 1, 2, 3]
    assert "8gaussians linear/pca" in cfg.status_only  # only in the coverage group
    assert "8gaussians kmeans/kmeans" not in cfg.status_only, cfg.status_only


def test_one_pair_at_two_profiles_is_refused(registry):
    """compare matches cells by (task, label, rep): one pair at two budgets would clash."""
    with pytest.raises(UsageError, match=r"t-twoprofiles.*a pair runs at one profile"):
        planned(registry, "t-twoprofiles")


# ------------------------------------------------------------------ the CLI: run --suite
@pytest.mark.parametrize(
    "extra,flags",
    [
        (("-t", "foo"), "--task"),
        (("--all",), "--all"),
        (("-m", "kmeans", "-M", "kmeans"), "--model, --method"),
        (("--seeds", "2"), "--seeds"),
        (("--profile", "quick"), "--profile"),
    ],
)
def test_run_suite_clashes_with_grid_options(tmp_path, extra, flags):
    r = invoke("run", "--suite", "ci", *extra, "--out", tmp_path)
    assert_usage_error(r, "--suite", flags)
    assert not (tmp_path / "runs").exists()


def test_run_unknown_suite(tmp_path):
    assert_usage_error(invoke("run", "--suite", "cii", "--out", tmp_path), "unknown suite 'cii'", "did you mean 'ci'")
    line = assert_usage_error(invoke("run", "--suite", "nosuch", "--out", tmp_path), "unknown suite 'nosuch'")
    assert "ci" in line  # no close match: the known suites are listed
    assert not (tmp_path / "runs").exists()


def test_run_suite_with_a_misspelled_method_is_one_line_before_anything_runs(tmp_path):
    plugins = _write_plugin(
        tmp_path / "plugins",
        GOOD_FILE.replace('("linear",), ("pca",)', '("linear",), ("pcaa",)'),
    )
    r = invoke("run", "--suite", "mini", "--plugins-dir", plugins, "--out", tmp_path / "out")
    assert_usage_error(r, "suite 'mini' groups[2]", "unknown method 'pcaa'", "did you mean 'pca'")
    assert not (tmp_path / "out" / "runs").exists()


def test_run_suite_end_to_end_then_baseline_and_compare(tmp_path):
    """The cheapest real suite run: shared cell once, status-only pairs in run.json; its
    baseline compares clean against it."""
    plugins = _write_plugin(tmp_path / "plugins", GOOD_FILE)
    out = tmp_path / "results"
    common = ("--plugins-dir", plugins)
    r = invoke(
        "run", "--suite", "mini", *common, "--out", out, "--no-report", "--executor", "serial", "--metric", "nll_grid"
    )
    assert r.exit_code == 0, (r.stdout, r.stderr, r.exception)
    (run_dir,) = (out / "runs").iterdir()
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "finished" and meta["n_cells"] == 3
    assert meta["suite"]["name"] == "mini" and meta["suite"]["version"] == 2
    assert meta["suite"]["status_only"] == ["8gaussians linear/pca"]
    assert meta["grid"]["suite"] == "mini" and meta["profile"]["name"] == "smoke"

    import pandas as pd

    rows = pd.read_parquet(run_dir / "results.parquet")
    assert sorted(zip(rows["label"], rows["rep"], strict=True)) == [
        ("kmeans/kmeans", 0),
        ("kmeans/kmeans", 1),
        ("linear/pca", 0),
    ]
    assert set(rows["status"]) == {"done"} and set(rows["profile"]) == {"smoke"}

    saved = invoke("baseline", "save", "--name", "mini", "--root", out)
    assert saved.exit_code == 0, saved.stderr
    doc = json.loads((out / "baselines" / "mini.json").read_text())
    assert doc["suite"]["name"] == "mini" and doc["profile"] == "smoke"
    values = {(c["label"], c["rep"]): c["values"] for c in doc["cells"]}
    assert set(values[("kmeans/kmeans", 0)]) == {"nll_grid"} and values[("linear/pca", 0)] == {}

    cmp = invoke("compare", out / "baselines" / "mini.json", "--root", out, "--format", "json")
    assert cmp.exit_code == 0, (cmp.stdout, cmp.stderr)
    report = json.loads(cmp.stdout)
    assert not report["regression"]
    assert {(r["label"], r["mark"]) for r in report["rows"]} == {("kmeans/kmeans", "unchanged")}
