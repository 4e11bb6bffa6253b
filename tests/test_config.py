"""Configuration files for `ebmbench run` (ebmbench/config.py): --config FILE.toml and
[tool.ebmbench] in the working directory's pyproject.toml, below explicit flags."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ebmbench.config import apply_config, config_default_map, merge_default_maps
from ebmbench.errors import UsageError


# A throwaway command shaped like `ebmbench run`, wired the way cli.py wires it.
@click.command("run")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=apply_config,
    help="TOML file with option defaults.",
)
@click.option("--all", "run_all", is_flag=True)
@click.option("-t", "--task", "tasks", multiple=True)
@click.option("--seeds", type=click.IntRange(1, 1000), default=None)
@click.option("--seed", "base_seed", type=int, default=0)
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None)
@click.option("--profile", type=click.Choice(["smoke", "quick", "full"]), default="quick")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--fail-on", default="error")
@click.option("--no-report", is_flag=True)
@click.option("-p", "plugin_flags", multiple=True)
def run(**options):
    click.echo(json.dumps(options, sort_keys=True))


DEFAULTS = {
    "run_all": False,
    "tasks": [],
    "seeds": None,
    "base_seed": 0,
    "jobs": None,
    "profile": "quick",
    "timeout": None,
    "fail_on": "error",
    "no_report": False,
    "plugin_flags": [],
}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def invoke(*args, **kwargs) -> dict:
    result = CliRunner().invoke(run, [str(a) for a in args], **kwargs)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output)


def invoke_error(*args) -> str:
    """The one-line UsageError message a bad configuration gives."""
    result = CliRunner().invoke(run, [str(a) for a in args])
    assert isinstance(result.exception, UsageError), (result.output, result.exception)
    message = str(result.exception)
    assert "\n" not in message
    return message


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """An empty working directory (no pyproject.toml), the one config_default_map is told."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


# ------------------------------------------------------------------------- values
def test_file_values_become_typed_defaults(cwd):
    write(
        cwd / "ebm.toml",
        """
        task = ["ring", "moons"]
        seed = 7
        jobs = 2
        profile = "smoke"
        timeout = 1.5
        fail-on = "error,timeout"
        no-report = true
        all = true
    """,
    )
    assert config_default_map(run, "ebm.toml", cwd) == {
        "tasks": ("ring", "moons"),
        "base_seed": 7,
        "jobs": 2,
        "profile": "smoke",
        "timeout": 1.5,
        "fail_on": "error,timeout",
        "no_report": True,
        "run_all": True,
    }


def test_without_any_file_the_map_is_empty(cwd):
    assert config_default_map(run, None, cwd) == {}
    assert invoke() == DEFAULTS


def test_explicit_flags_win_over_the_file(cwd):
    write(
        cwd / "ebm.toml",
        """
        task = ["ring", "moons"]
        seed = 7
        profile = "smoke"
        no-report = true
    """,
    )
    assert invoke("--config", "ebm.toml") == {
        **DEFAULTS,
        "tasks": ["ring", "moons"],
        "base_seed": 7,
        "profile": "smoke",
        "no_report": True,
    }
    # A flag replaces the file's value whole (no merging of -t lists), wherever --config stands.
    assert invoke("-t", "blobs", "--seed", "3", "--config", "ebm.toml", "--profile", "full") == {
        **DEFAULTS,
        "tasks": ["blobs"],
        "base_seed": 3,
        "profile": "full",
        "no_report": True,
    }


def test_default_map_passed_to_make_context(cwd):
    write(cwd / "ebm.toml", "seed = 11\njobs = 4\n")
    defaults = config_default_map(run, "ebm.toml", cwd)
    ctx = run.make_context("run", ["--jobs", "1"], default_map=defaults)
    assert ctx.params["base_seed"] == 11 and ctx.params["jobs"] == 1


def test_a_default_map_from_the_caller_stays_below_the_file(cwd):
    write(cwd / "ebm.toml", "seed = 11\n")
    out = invoke("--config", "ebm.toml", default_map={"base_seed": 1, "jobs": 3})
    assert (out["base_seed"], out["jobs"]) == (11, 3)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("seed = 5", {"base_seed": 5}),
        ("base_seed = 5", {"base_seed": 5}),
        ("base-seed = 5", {"base_seed": 5}),
        ('seed = "5"', {"base_seed": 5}),  # the text a shell would pass
        ('task = "ring"', {"tasks": ("ring",)}),
        ('tasks = ["ring"]', {"tasks": ("ring",)}),
        ('fail_on = "timeout"', {"fail_on": "timeout"}),
        ('fail-on = "timeout"', {"fail_on": "timeout"}),
        ("no_report = false", {"no_report": False}),
        ("run_all = true", {"run_all": True}),
        ('plugin_flags = "no:x"', {"plugin_flags": ("no:x",)}),  # no long name: the parameter name
    ],
)
def test_key_spellings(cwd, text, expected):
    write(cwd / "ebm.toml", text)
    assert config_default_map(run, cwd / "ebm.toml", cwd) == expected


# ------------------------------------------------------------------------- sources
def test_pyproject_in_the_working_directory(cwd):
    write(
        cwd / "pyproject.toml",
        """
        [project]
        name = "mine"

        [tool.ebmbench]
        task = "ring"
        jobs = 2
    """,
    )
    assert config_default_map(run, None, cwd) == {"tasks": ("ring",), "jobs": 2}
    assert invoke() == {**DEFAULTS, "tasks": ["ring"], "jobs": 2}
    assert invoke("-j", "1")["jobs"] == 1


def test_pyproject_is_not_searched_upwards(cwd):
    write(cwd.parent / "pyproject.toml", "[tool.ebmbench]\nseed = 9\n")
    (cwd / "sub").mkdir()
    assert config_default_map(run, None, cwd / "sub") == {}


def test_pyproject_without_the_table_gives_nothing(cwd):
    write(cwd / "pyproject.toml", '[project]\nname = "mine"\n[tool.other]\nseed = 3\n')
    assert config_default_map(run, None, cwd) == {}


def test_config_file_wins_over_pyproject(cwd):
    write(cwd / "pyproject.toml", "[tool.ebmbench]\nseed = 1\njobs = 2\nprofile = 'full'\n")
    write(cwd / "ebm.toml", "seed = 5\nprofile = 'smoke'\n")
    assert config_default_map(run, "ebm.toml", cwd) == {"base_seed": 5, "jobs": 2, "profile": "smoke"}
    out = invoke("--config", "ebm.toml", "--profile", "quick")
    assert (out["base_seed"], out["jobs"], out["profile"]) == (5, 2, "quick")


def test_config_file_shaped_like_pyproject_uses_its_table(tmp_path, cwd):
    other = write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "elsewhere"
        [tool.ebmbench]
        seed = 4
    """,
    )
    assert config_default_map(run, other, cwd) == {"base_seed": 4}


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "text, message",
    [
        ("sede = 1", "unknown key 'sede'; did you mean 'seed'?"),
        ("fail_onn = 'x'", "unknown key 'fail_onn'; did you mean 'fail-on'?"),
        ("jobs = 0", "key 'jobs': 0 is not in the range 1<=x<=256"),
        ("seeds = 2.5", "key 'seeds': '2.5' is not a valid integer range"),
        ("profile = 'huge'", "key 'profile': 'huge' is not one of 'smoke', 'quick', 'full'"),
        ("timeout = 0", "key 'timeout': 0.0 is not in the range x>0"),
        ("seed = true", "key 'seed' must be a string or a number, got true"),
        ("seed = [1, 2]", "key 'seed' must be a string or a number, got [1, 2]"),
        ("no-report = 'yes'", "key 'no-report' must be true or false, got 'yes'"),
        ("no-report = 1", "key 'no-report' must be true or false, got 1"),
        ("task = [1, true]", "key 'task' must be a string or a list of strings, got [1, True]"),
        ("task = []", "key 'task' must be a string or a list of strings, got []"),
        ("task = {name = 'ring'}", "key 'task' must be a string or a list of strings, got a table"),
        ("task = 'a'\ntasks = 'b'", "keys 'task' and 'tasks' both set -t/--task"),
        # A file cannot name another file; with no close match the message lists the keys.
        (
            "config = 'other.toml'",
            (
                "unknown key 'config' (allowed: all, fail-on, jobs, no-report, "
                "plugin-flags, profile, seed, seeds, task, timeout)"
            ),
        ),
    ],
)
def test_bad_values_name_the_file_and_the_key(cwd, text, message):
    path = write(cwd / "x.toml", text)
    assert invoke_error("--config", path) == f"config {path}: {message}"


def test_bad_value_in_pyproject_names_its_table(cwd):
    write(cwd / "pyproject.toml", "[tool.ebmbench]\nno-report = 'yes'\n")
    assert invoke_error() == (
        f"config {cwd / 'pyproject.toml'} [tool.ebmbench]: key 'no-report' must be true or false, got 'yes'"
    )


def test_missing_config_file(cwd):
    assert invoke_error("--config", "nope.toml") == (
        f"config {cwd / 'nope.toml'}: cannot read: No such file or directory"
    )


def test_config_file_that_is_not_toml(cwd):
    path = write(cwd / "x.toml", "seed = \n")
    message = invoke_error("--config", path)
    assert message.startswith(f"config {path}: cannot read: ") and "line 1" in message


def test_invalid_pyproject_in_the_working_directory_is_an_error(cwd):
    write(cwd / "pyproject.toml", "[tool.ebmbench\n")
    message = invoke_error("--seed", "1")
    assert message.startswith(f"config {cwd / 'pyproject.toml'}: cannot read: ")


@pytest.mark.parametrize("name", ["pyproject.toml", "x.toml"])
def test_tool_ebmbench_that_is_not_a_table(cwd, name):
    path = write(cwd / name, "[tool]\nebmbench = 3\n")
    args = ["--config", path] if name == "x.toml" else []
    assert invoke_error(*args) == f"config {path}: [tool.ebmbench] must be a table, got 3"


def test_error_in_the_config_table_of_a_pyproject_shaped_file(cwd):
    path = write(cwd / "x.toml", "[tool.ebmbench]\njobs = 999\n")
    assert invoke_error("--config", path) == (
        f"config {path} [tool.ebmbench]: key 'jobs': 999 is not in the range 1<=x<=256"
    )


# ------------------------------------------------------------------------- misc
def test_flags_storing_other_values(cwd):
    @click.command()
    @click.option("--no-cache", "cache", is_flag=True, flag_value=False, default=True)
    @click.option("--fast", "mode", flag_value="fast", default="slow")
    def cmd(cache, mode):
        pass

    def defaults(text):
        write(cwd / "x.toml", text)
        return config_default_map(cmd, "x.toml", cwd)

    assert defaults("no-cache = true\nfast = true") == {"cache": False, "mode": "fast"}
    assert defaults("no-cache = false\nfast = false") == {"cache": True}


def test_merge_default_maps_later_wins():
    assert merge_default_maps({"a": 1, "b": 2}, None, {"b": 3}) == {"a": 1, "b": 3}
    assert merge_default_maps() == {}


def test_importing_does_not_import_torch_or_pandas():
    code = "import sys, ebmbench.config; print(sorted({'torch', 'pandas'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
