"""One meaning per flag (`--out` is the results root on every command, EBMBENCH_OUT sets it,
`--root` survives as a hidden alias, `report --dest`), quiet broken pipes, and plugin text
without terminal control sequences (ebmbench/cli.py, ebmbench/errors.py, the executors)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import click
import pytest
from support import SMOKE, assert_usage_error, invoke, only_run

from ebmbench.cli import OUT_ENV, OUT_HELP, OutOption, cli
from ebmbench.errors import strip_control

# the commands that read or write runs: each takes the results root as --out
ROOT_COMMANDS = {"run", "show", "report", "compare", "baseline save", "history"}
# names a results root has had, or could plausibly get, under another flag
ROOT_LIKE = {"--root", "--results", "--results-dir", "--results-root", "--out-dir", "--runs", "--output"}
DEPRECATED = {"--root"}  # hidden aliases of --out, kept for old scripts


def commands(group: click.Group = cli, prefix: str = ""):
    """(name, command) for every command, sub-groups' commands included."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def help_text(name: str) -> str:
    r = invoke(*name.split(), "--help", env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    return r.stdout


# ----------------------------------------------------------------- --out everywhere
def test_out_means_the_results_root_on_every_command():
    seen = set()
    for name, command in commands():
        outs = [p for p in command.params if "--out" in getattr(p, "opts", ())]
        if name in ROOT_COMMANDS:
            assert len(outs) == 1, name
        for p in outs:
            seen.add(name)
            # one shared definition: the same class, help, environment variable and default
            assert isinstance(p, OutOption), name
            assert (p.name, p.help, p.envvar, p.default) == ("out", OUT_HELP, OUT_ENV, "results"), name
            assert set(p.opts) - {"--out"} <= DEPRECATED, (name, p.opts)
            assert set(p.hidden_aliases) == set(p.opts) - {"--out"}, name
        for p in command.params:
            if p in outs or not isinstance(p, click.Option):
                continue
            # no other option takes a results root, under any name
            assert not set(p.opts) & ROOT_LIKE, (name, p.opts)
            assert "results root" not in (p.help or "").lower(), (name, p.opts)
    assert seen == ROOT_COMMANDS


def test_help_shows_out_once_and_never_the_deprecated_alias():
    for name in sorted(ROOT_COMMANDS):
        text = help_text(name)
        assert text.count("--out DIR") == 1 and OUT_ENV in text, name
        assert "--root" not in text, name
    report = help_text("report")
    assert "--dest DIR" in report and "-o" not in report.replace("--out", "")


def test_ebmbench_out_sets_the_root_from_any_folder(smoke_run, tmp_path, monkeypatch):
    _, run_dir = smoke_run
    root = run_dir.parent.parent
    monkeypatch.chdir(tmp_path)  # no ./results here
    r = invoke("show", "--format", "json", env={OUT_ENV: str(root)})
    assert r.exit_code == 0, r.stderr
    assert "8gaussians" in r.stdout
    r = invoke("report", "--format", "md", "--dest", tmp_path / "md", env={OUT_ENV: str(root)})
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "md" / "report.md").exists()
    # a flag still wins over the environment
    assert_usage_error(invoke("show", "--out", tmp_path / "empty", env={OUT_ENV: str(root)}), "no runs")


@pytest.mark.parametrize(
    "args",
    [
        ("report", "--format", "md"),
        ("compare", "nosuchbaseline.json"),
        ("baseline", "save", "--name", "b"),
        ("history",),
    ],
)
def test_root_is_still_accepted_as_the_results_root(args, tmp_path):
    """Old scripts keep working: `--root DIR` is `--out DIR` (here an empty root)."""
    old = invoke(*args, "--root", tmp_path)
    new = invoke(*args, "--out", tmp_path)
    assert old.exit_code == new.exit_code == 2, (old.stderr, new.stderr)
    assert old.stderr == new.stderr


def test_report_dest_and_its_short_alias(smoke_run, tmp_path):
    _, run_dir = smoke_run
    root = run_dir.parent.parent
    for flag, folder in (("--dest", tmp_path / "a"), ("-o", tmp_path / "b")):
        r = invoke("report", run_dir.name, "--out", root, "--format", "md", flag, folder)
        assert r.exit_code == 0, r.stderr
        assert (folder / "report.md").exists(), flag


# --------------------------------------------------------------------- broken pipes
def _with_closed_stdout(*args: str) -> subprocess.CompletedProcess:
    """Run ebmbench with a stdout pipe whose reader is gone before the first byte."""
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ebmbench", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    proc.stdout.close()  # `| head -0`: every write now fails with EPIPE
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    return subprocess.CompletedProcess(proc.args, proc.wait(timeout=120), "", stderr)


@pytest.mark.parametrize("extra", [(), ("--format", "json")])
def test_show_into_a_closed_pipe_ends_quietly(smoke_run, extra):
    _, run_dir = smoke_run
    done = _with_closed_stdout("show", "--out", str(run_dir.parent.parent), *extra)
    assert (done.returncode, done.stderr) == (0, "")


def test_list_into_a_closed_pipe_ends_quietly():
    done = _with_closed_stdout("list", "--json")
    assert (done.returncode, done.stderr) == (0, "")


def test_show_piped_to_head_exits_0(smoke_run):
    _, run_dir = smoke_run
    script = f"set -o pipefail; {sys.executable} -m ebmbench show --out '{run_dir.parent.parent}' | head -1"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("run ")


def test_a_closed_pipe_is_told_from_an_open_one(monkeypatch):
    """Only stdout's own broken pipe ends a command quietly; another pipe's is an error."""
    from ebmbench.cli import _stdout_closed

    read, write = os.pipe()
    with os.fdopen(write, "w") as out:
        monkeypatch.setattr(sys, "stdout", out)
        assert _stdout_closed() is False
        os.close(read)
        assert _stdout_closed() is True


# ---------------------------------------------------------- terminal control sequences
ESCAPES = "\x1b[31mred\x1b[0m \x1b]0;pwned\x07title \x1b[2Jclear\rCR \x9b1mC1 \x07bell"


def test_strip_control_keeps_text_newlines_and_tabs():
    assert strip_control(ESCAPES) == "red title clearCR C1 bell"
    assert strip_control("line 1\n\tline 2 ✓ μ") == "line 1\n\tline 2 ✓ μ"
    assert strip_control("unterminated \x1b]8;;http://x\nnext") == "unterminated \nnext"
    assert strip_control(None) is None


LOUD_PLUGIN = f"""
import ebmbench


class Loud(ebmbench.Method):
    name = "loud_raise"
    family = "architectural"
    model_families = frozenset({{"prototype"}})
    task_kinds = frozenset({{"unconditional"}})
    summary = "raises with terminal escape sequences in its message"
    reference = "ebmbench test"

    def train(self, model, data, ctx):
        raise RuntimeError({ESCAPES!r})


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(Loud)
"""


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_plugin_exception_text_is_stored_and_printed_without_escapes(tmp_path, executor):
    from ebmbench.results.runs import load_results

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "loud.py").write_text(textwrap.dedent(LOUD_PLUGIN))
    args = [a if a != "kmeans" or i != SMOKE.index("-M") + 1 else "loud_raise" for i, a in enumerate(SMOKE)]
    r = invoke("run", *args, "--plugins-dir", plugins, "--executor", executor, "--out", tmp_path / "out")
    assert r.exit_code == 1, (r.output, r.stderr)  # the cell is an error
    printed = r.stdout + r.stderr
    assert "RuntimeError: red title" in printed  # the reason is shown ...
    assert not any(c in printed for c in "\x1b\x9b\x07\r")  # ... without its control sequences
    stored = load_results(only_run(tmp_path / "out")).iloc[0]
    assert stored["status"] == "error"
    assert stored["reason"] == "RuntimeError: red title clearCR C1 bell"
    assert "red title" in stored["traceback"] and "\x1b" not in stored["traceback"]


def test_record_cleans_whatever_an_executor_returns():
    """The runner's last gate: a third-party executor's reason is cleaned before the store."""
    from ebmbench.execution.plan import RunConfig, plan
    from ebmbench.executor_api import CellResult
    from ebmbench.params import parse_selection
    from ebmbench.registry import LoadConfig, load_registry
    from ebmbench.runner import _record

    registry = load_registry(LoadConfig())
    sel = parse_selection("kmeans")
    cfg = RunConfig(tasks=parse_selection("8gaussians"), models=sel, methods=sel, seeds=1, profile="smoke")
    (cell,) = plan(registry, cfg)
    record = _record("r1", cell, CellResult("error", ESCAPES, "Traceback\n  " + ESCAPES))
    assert record["reason"] == strip_control(ESCAPES) and "\x1b" not in record["traceback"]


def test_usage_errors_and_plugin_tables_quote_plugin_errors_without_escapes(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "bad_import.py").write_text(f"raise ImportError({ESCAPES!r})\n")
    line = assert_usage_error(invoke("list", "--strict-plugins", "--plugins-dir", plugins), "bad_import")
    assert "red title" in line and "\x1b" not in line
    r = invoke("plugins", "--plugins-dir", plugins, env={"COLUMNS": "300"})
    assert r.exit_code == 0 and "red title" in r.stdout and "\x1b" not in r.stdout


def test_paths_are_shown_relative_to_the_current_folder_when_below_it(tmp_path, monkeypatch):
    """`results:` and `report:` lines fit a log's 80 columns: a run folder below the current
    one is printed relative to it; one elsewhere stays as it is."""
    from ebmbench.errors import shown_path

    run = tmp_path / "results" / "runs" / "20261201-213426-a24e7bb1d3b1"
    run.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert shown_path(run / "report.html") == "results/runs/20261201-213426-a24e7bb1d3b1/report.html"
    monkeypatch.chdir(run)
    assert shown_path(run) == "."
    assert shown_path(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")
