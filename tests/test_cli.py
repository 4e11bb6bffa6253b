"""The command line through click's test runner: every error path is exit code 2 with
one line on stderr and no traceback; JSON listings; `show`; no torch on --help
(ebmbench/cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from support import SMOKE, assert_usage_error, invoke

import ebmbench

RUN = ("run", "--profile", "smoke", "--seeds", "1")
WIDE = {"COLUMNS": "250"}  # rich folds long cells on a narrow terminal


# ------------------------------------------------------------- unknown names
@pytest.mark.parametrize(
    "args,fragments",
    [
        (("-t", "8gausians"), ("unknown task '8gausians'", "did you mean '8gaussians'")),
        (("-t", "8gaussians", "-m", "mpl"), ("unknown model 'mpl'", "did you mean 'mlp'")),
        (("-t", "8gaussians", "-M", "pcdd"), ("unknown method 'pcdd'", "did you mean 'pcd'")),
        (("-t", "8gaussians", "--metric", "mmd"), ("unknown metric 'mmd'", "did you mean 'mmd2'")),
        (("-t", "8gaussians", "--metric", "energy_gap, mmd"), ("unknown metric 'mmd'",)),
        (("-t", "8gaussians", "-M", "pcd,dsm,kmeanz"), ("unknown method 'kmeanz'", "did you mean 'kmeans'")),
        (("--all", "--profile", "smok"), ("smok",)),
        # a parameter that names another entry (Param.names) is checked before any cell runs
        (("-t", "rings", "-m", "oracle", "-M", "given[sampler=langevn]"), ("given[sampler=langevn]", "'langevin'")),
    ],
)
def test_unknown_names_suggest(args, fragments, tmp_path):
    r = invoke("run", *args, "--out", tmp_path)
    assert_usage_error(r, *fragments)
    assert not (tmp_path / "runs").exists()  # a typo costs nothing: no run folder


def test_name_without_close_match_lists_known_names():
    line = assert_usage_error(invoke(*RUN, "-t", "zzzzzz"), "unknown task 'zzzzzz'")
    assert "8gaussians" in line and "horn" in line


# ---------------------------------------------------------------- bad parameters
@pytest.mark.parametrize(
    "spec,fragments",
    [
        ("pcd[stpes=3]", ("no parameter 'stpes'", "allowed:", "steps (int in [1, inf])", "reinit")),
        ("pcd[steps=abc]", ("steps", "int", "'abc'")),
        ("pcd[reinit=2]", ("reinit", "[0, 1]", "2")),
        ("pcd[steps=0]", ("steps", "[1, inf]")),
        ("pcd[steps]", ("key=value",)),
        ("pcd[steps=1,steps=2]", ("twice",)),
    ],
)
def test_invalid_method_parameters_say_what_is_allowed(spec, fragments):
    assert_usage_error(invoke(*RUN, "-t", "8gaussians", "-m", "mlp", "-M", spec), *fragments)


def test_invalid_model_choice_lists_choices():
    assert_usage_error(
        invoke(*RUN, "-t", "8gaussians", "-m", "mlp[activation=relu]", "-M", "dsm"),
        "one of silu, softplus, elu, tanh",
        "'relu'",
    )


@pytest.mark.parametrize(
    "spec,fragments",
    [
        ("dsm[sigma=0]", ("sigma", "(0, inf)", "got 0.0")),
        ("dsm[sigma=inf]", ("sigma", "(0, inf)", "got inf", "not finite")),
        ("dsm[sigma=nan]", ("sigma", "not a number")),
        ("dsm_multi[sigma_min=0]", ("sigma_min", "(0, inf)")),
        ("dsm[lr=0]", ("lr", "(0, inf)")),
    ],
)
def test_meaningless_values_stop_before_any_cell(spec, fragments, tmp_path):
    """0 or inf would not fail validation before: the cell diverged minutes later."""
    r = invoke(*RUN, "-t", "8gaussians", "-m", "mlp", "-M", spec, "--out", tmp_path)
    assert_usage_error(r, *fragments)
    assert not (tmp_path / "runs").exists()  # no run folder: nothing started


def test_bad_value_in_a_sweep_is_caught_before_running(tmp_path):
    r = invoke(*RUN, "-t", "8gaussians", "-m", "kmeans", "-M", "kmeans[max_iter=5|0]", "--out", tmp_path)
    assert_usage_error(r, "max_iter")
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------- other bad usage
@pytest.mark.parametrize(
    "args,fragments",
    [
        (("run",), ("nothing selected",)),
        (("run", "--profile", "smoke"), ("nothing selected",)),
        (("run", "-t", "8gaussians", "--fail-on", "bogus"), ("--fail-on", "bogus")),
        (("run", "-t", "8gaussians", "--fail-on", "error,diverged,explode"), ("explode",)),
        (("run", "-t", "8gaussians", "--device", "tpu"), ("--device", "'tpu'")),
        (("run", "-t", "8gaussians", "--seeds", "0"), ("--seeds",)),
        (("run", "-t", "8gaussians", "--timeout", "0"), ("--timeout",)),
        (("run", "--bogus-option"), ("--bogus-option",)),
        (("frobnicate",), ("frobnicate",)),
        (("list", "widgets"), ("widgets",)),
        (("run", "-t", "8gaussians", "-p", "pcd"), ("no:NAME",)),
        # an empty selection names its option, not the grid it would have made
        (("run", "-t", ""), ("-t/--task is empty", "ebmbench list tasks")),
        (("run", "-t", " , "), ("-t/--task is empty",)),
        (("run", "-t", "8gaussians", "-m", ""), ("-m/--model is empty",)),
        (("run", "-t", "8gaussians", "-M", ""), ("-M/--method is empty",)),
        (("run", "-t", "8gaussians", "--metric", ""), ("--metric is empty", "ebmbench list metrics")),
        (("history", "-t", ""), ("-t/--task is empty",)),
        (("history", "--metric", ","), ("--metric is empty",)),
        (("compare", "base.json", "--metric", ""), ("--metric is empty",)),
        (("baseline", "save", "--name", "b", "--metric", ""), ("--metric is empty",)),
        (("run", "-t", "8gaussians", "-q", "--progress", "json"), ("--quiet", "--progress")),
        (("run", "-t", "8gaussians", "--progress", "fancy"), ("--progress", "fancy")),
    ],
)
def test_bad_usage_is_one_line_exit_2(args, fragments):
    line = assert_usage_error(invoke(*args), *fragments)
    assert line.startswith("ebmbench: error: ")
    assert "Usage:" not in line


def test_cuda_on_a_cpu_machine_is_a_usage_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = invoke(*RUN, "-t", "8gaussians", "-m", "kmeans", "-M", "kmeans", "--device", "cuda", "--out", tmp_path)
    assert_usage_error(r, "cuda", "is_available")
    assert_usage_error(invoke(*RUN, "-t", "8gaussians", "--device", "cuda:0"), "cuda:0")
    assert not (tmp_path / "runs").exists()


def test_valid_fail_on_lists_are_accepted():
    # valid statuses pass the check and the run stops at the next problem (the typo)
    assert_usage_error(
        invoke(*RUN, "-t", "8gaussians", "-M", "pcdd", "--fail-on", "error, diverged,timeout"), "unknown method"
    )


# ------------------------------------------------------------------------- show
def test_show_unknown_run_id(smoke_run):
    _, run_dir = smoke_run
    out = run_dir.parent.parent
    assert_usage_error(invoke("show", "nosuchrun", "--out", out), "unknown run 'nosuchrun'")


def test_show_without_runs(tmp_path):
    assert_usage_error(invoke("show", "--out", tmp_path), "no runs")


def test_show_prints_the_run_table(smoke_run):
    result, run_dir = smoke_run
    out = run_dir.parent.parent
    for args in ((), (run_dir.name,), (run_dir.name[:15],)):
        r = invoke("show", *args, "--out", out, env=WIDE)
        assert r.exit_code == 0, (r.output, r.stderr)
        assert run_dir.name in r.stdout
        assert "8gaussians" in r.stdout and "kmeans/kmeans" in r.stdout and "mmd2 ↓" in r.stdout
        assert "auroc_noise ↑" in r.stdout and "1 done" in r.stdout
    # `run` printed the table too, and where the run is
    assert "8gaussians" in result.stdout and "mmd2" in result.stdout
    assert str(run_dir) in result.stdout.replace("\n", "")


# ------------------------------------------------------------------- JSON listings
def test_list_json_lists_builtins_with_versions():
    r = invoke("list", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"tasks", "models", "methods", "samplers", "metrics", "executors", "suites"}
    names = {k: {e["name"] for e in v} for k, v in data.items()}
    assert {"8gaussians", "2spirals", "horn"} <= names["tasks"]
    assert {"mlp", "kmeans"} <= names["models"]
    assert {"pcd", "dsm", "kmeans"} <= names["methods"]
    assert "langevin" in names["samplers"]
    assert {"energy_gap", "auroc_noise", "mmd2", "inference_error", "completion"} <= names["metrics"]
    for kind, entries in data.items():
        for e in entries:
            assert e["version"] == ebmbench.__version__ and e["dist"] == "ebmbench", (kind, e["name"])
            assert e["plugin"] and len(e["source_hash"]) == 16 and e["summary"]
    methods = {e["name"]: e for e in data["methods"]}
    assert methods["pcd"]["family"] == "contrastive" and methods["kmeans"]["family"] == "architectural"
    assert methods["pcd"]["params"]["steps"]["default"] == 20
    metrics = {e["name"]: e for e in data["metrics"]}
    assert metrics["mmd2"]["direction"] == "lower" and metrics["auroc_noise"]["direction"] == "higher"
    tasks = {e["name"]: e for e in data["tasks"]}
    assert tasks["horn"]["kind"] == "conditional" and "log_density" in tasks["8gaussians"]["ground_truth"]


def test_list_one_kind_json_is_a_list():
    data = json.loads(invoke("list", "samplers", "--json").stdout)
    assert isinstance(data, list) and "langevin" in {e["name"] for e in data}


def test_plugins_json_lists_builtins_with_versions():
    r = invoke("plugins", "--json")
    assert r.exit_code == 0, r.stderr
    rows = {p["name"]: p for p in json.loads(r.stdout)}
    for name in (
        "tasks.toy2d",
        "tasks.conditional",
        "models.mlp",
        "models.prototypes",
        "methods.pcd",
        "methods.dsm",
        "methods.kmeans",
        "samplers.langevin",
        "metrics.energy",
        "metrics.sample_quality",
        "metrics.inference",
    ):
        p = rows[name]
        assert (p["status"], p["dist"], p["version"], p["error"]) == (
            "loaded",
            "ebmbench",
            ebmbench.__version__,
            None,
        ), name
        assert p["hooks"] and p["entries"]
    assert "methods:pcd" in rows["methods.pcd"]["entries"]
    assert rows["methods.pcd"]["hooks"] == ["ebmbench_register_methods"]


def test_human_tables_render():
    for args in (("list",), ("list", "methods"), ("plugins",)):
        r = invoke(*args, env=WIDE)
        assert r.exit_code == 0, (args, r.stderr)
        assert "pcd" in r.stdout
    metrics = invoke("list", "metrics", env=WIDE).stdout
    assert "higher is better ↑" in metrics and "lower is better ↓" in metrics


def test_list_methods_shows_family_and_source_and_long_adds_params():
    short = invoke("list", "methods", env=WIDE).stdout
    assert "source" in short and "Hinton 2002" in short and "contrastive" in short
    assert "provider" not in short and "steps=20" not in short
    long_ = invoke("list", "methods", "--long", env=WIDE).stdout
    assert "provider" in long_ and "steps=20" in long_ and "Hinton 2002" in long_


def test_version_and_help():
    r = invoke("--version")
    assert r.exit_code == 0 and ebmbench.__version__ in r.stdout
    r = invoke("--help")
    assert r.exit_code == 0 and "run" in r.stdout and "list" in r.stdout


# ------------------------------------------------------------- no eager torch
HEAVY = ("torch._C", "pandas", "scipy", "sklearn")


def _modules_after(args) -> dict:
    code = textwrap.dedent(f"""
        import json, sys
        from click.testing import CliRunner
        from ebmbench.cli import cli
        r = CliRunner().invoke(cli, {list(args)!r})
        lazy = type(sys.modules.get("torch")).__name__
        print(json.dumps({{"exit": r.exit_code, "torch": "torch" in sys.modules, "torch_kind": lazy,
                          "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_does_not_import_torch():
    for args in (["--help"], ["run", "--help"]):
        info = _modules_after(args)
        assert info["exit"] == 0
        assert not info["torch"], args  # not even a lazy placeholder: no plugin was loaded
        assert info["heavy"] == [], args


def test_list_and_plugins_do_not_import_torch():
    """Plugins bind torch lazily: listing leaves at most an unexecuted lazy module."""
    for args in (["list"], ["plugins", "--json"]):
        info = _modules_after(args)
        assert info["exit"] == 0
        assert info["heavy"] == [], (args, info)
        assert not info["torch"] or info["torch_kind"] == "_LazyModule", (args, info)


def test_smoke_command_is_what_the_tests_run():
    # guards the shared fixture: a real selection, not a typo that exits 2
    assert "8gaussians" in SMOKE and "kmeans" in SMOKE


def test_the_catalog_page_is_the_registry():
    """docs/catalog.md is `ebmbench list --format md`: regenerate it when an entry, a
    parameter or a source changes (the command is in its first lines)."""
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "catalog.md"
    r = invoke("list", "--format", "md")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == page.read_text(), "docs/catalog.md is stale: ebmbench list --format md > docs/catalog.md"
    for kind in ("## Tasks", "## Models", "## Methods", "## Samplers", "## Metrics"):
        assert kind in r.stdout
    assert "| `sigma` | `0.1` | float in (0, inf) | perturbation std (in data units) |" in r.stdout


def test_list_json_shows_task_tags():
    """`tags` were missing from `list --json` (issue 12): plugins declared them for nothing."""
    import json

    tasks = {t["name"]: t for t in json.loads(invoke("list", "tasks", "--json").stdout)}
    assert tasks["8gaussians"]["tags"] == ["2d", "toy"]
