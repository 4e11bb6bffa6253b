"""What `run` prints while cells finish (ebmbench/execution/progress.py, `--progress`,
`--quiet`): plain lines when stdout is not a terminal, JSON lines for scripts, counts and
time estimates over the cells that run only; and the message after Ctrl-C."""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import pytest
from support import SMOKE, assert_usage_error, invoke, only_run

from ebmbench.execution import progress
from ebmbench.execution.progress import JsonReporter, PlainReporter, RichReporter, Tally, make_reporter

# SMOKE plus a conditional task the kmeans pair cannot run: one skipped pair, one cell
WITH_SKIP = tuple("8gaussians,horn" if a == "8gaussians" else a for a in SMOKE)


def row(status="done", rep=0, reused=False, seconds=1.0, reason=None, task="8gaussians", label="mlp/dsm"):
    return {
        "task": task,
        "label": label,
        "rep": rep,
        "status": status,
        "wall_time_s": seconds,
        "reason": reason,
        "cached_from": "20260101-000000-old" if reused else None,
    }


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


# ------------------------------------------------------------------ through the CLI
@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """One real smoke cell next to a skipped pair, stdout captured (not a terminal)."""
    out = tmp_path_factory.mktemp("progress")
    r = invoke("run", *WITH_SKIP, "--out", out)
    assert r.exit_code == 0, (r.output, r.stderr)
    return r, out


def test_plain_lines_when_stdout_is_not_a_terminal(plain_run):
    r, out = plain_run
    lines = r.stdout.splitlines()
    run_id = only_run(out).name
    # the skipped (incompatible) pair is not counted: 1 cell, not 2
    assert lines[0] == f"run {run_id}: 1 cell to run (1 incompatible pair skipped)"
    assert lines[1].startswith("[1/1] 8gaussians kmeans/kmeans #0: done in ")
    assert "\x1b" not in r.stdout  # no rich live display, no colour codes in a log


def test_reused_cells_count_as_done_and_say_so(plain_run):
    _, out = plain_run
    r = invoke("run", *WITH_SKIP, "--out", out)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].endswith("1 cell to run (1 reused, 1 skipped)")  # the long form would pass 80
    assert lines[1] == "[1/1] 8gaussians kmeans/kmeans #0: done (reused)"


def test_progress_json_is_one_object_per_line_on_stdout(plain_run):
    _, out = plain_run
    r = invoke("run", *WITH_SKIP, "--out", out, "--force", "--progress", "json")
    assert r.exit_code == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]  # every line parses
    assert [e["event"] for e in events] == ["start", "cell", "end"]
    start, cell, end = events
    assert (start["total"], start["to_compute"], start["reused"], start["skipped"]) == (1, 1, 0, 1)
    assert {k: cell[k] for k in ("task", "label", "rep", "status", "done", "total", "reused")} == {
        "task": "8gaussians",
        "label": "kmeans/kmeans",
        "rep": 0,
        "status": "done",
        "done": 1,
        "total": 1,
        "reused": False,
    }
    assert cell["seconds"] > 0
    assert end["status"] == "finished" and end["statuses"] == {"done": 1} and end["run_id"] == start["run_id"]
    assert "kmeans/kmeans" in r.stderr and "results: " in r.stderr  # the human summary went to stderr


def test_quiet_prints_only_the_summary(plain_run):
    _, out = plain_run
    r = invoke("run", *WITH_SKIP, "--out", out, "--quiet")
    assert r.exit_code == 0, r.stderr
    assert "cell to run" not in r.stdout and "[1/1]" not in r.stdout
    assert "results: " in r.stdout


def test_quiet_and_an_explicit_progress_mode_conflict():
    assert_usage_error(invoke("run", *SMOKE, "--quiet", "--progress", "plain"), "--quiet", "--progress plain")


# ----------------------------------------------------------------- counting, timing
def test_eta_is_computed_over_computed_cells_only():
    clock = Clock()
    tally = Tally(to_compute=4, reused=6, clock=clock)
    assert tally.total == 10 and tally.eta_s() is None
    for _ in range(6):  # the reused burst: counted as done, not timed
        clock.now += 0.01
        assert tally.add(row(reused=True)) is True
    assert tally.done == 6 and tally.eta_s() is None
    clock.now += 10.0
    assert tally.add(row()) is False
    assert tally.eta_s() == pytest.approx(30.0)  # 10 s per cell, 3 left
    for _ in range(3):
        tally.add(row())
    assert tally.done == tally.total and tally.eta_s() == 0.0


def test_eta_follows_earlier_runs_times_of_the_cells_left_scaled_by_this_run():
    clock = Clock()
    tally = Tally(to_compute=4, reused=0, clock=clock)
    # longest first: a 100 s cell, then three of 10 s; two workers
    tally.expect({"a": 100.0, "b": 10.0, "c": 10.0, "d": 10.0}, jobs=2)
    assert tally.eta_s() == pytest.approx(100.0)  # before any cell: the longest bounds the wait
    clock.now += 200.0
    tally.add({**row(), "cell_id": "a", "wall_time_s": 200.0})  # this machine is 2x slower
    assert tally.eta_s() == pytest.approx(2 * 30.0 / 2)  # not 200 s per cell x 3 from the rate
    tally.add({**row(), "cell_id": "b", "wall_time_s": 20.0})
    assert tally.eta_s() == pytest.approx(220.0 / 110.0 * 20.0 / 2)


def test_eta_falls_back_to_the_rate_when_most_cells_are_unknown():
    clock = Clock()
    tally = Tally(to_compute=3, reused=0, clock=clock)
    tally.expect({"a": 5.0, "b": None, "c": None}, jobs=1)
    assert tally.eta_s() is None
    clock.now += 10.0
    tally.add({**row(), "cell_id": "b", "wall_time_s": 10.0})
    assert tally.eta_s() == pytest.approx(10.0)  # a known, c unknown: the median of the known, 5 + 5
    tally2 = Tally(to_compute=3, reused=0, clock=clock)
    tally2.expect({"a": None, "b": None, "c": 5.0}, jobs=1)
    clock.now += 10.0
    tally2.add({**row(), "cell_id": "c", "wall_time_s": 10.0})
    assert tally2.eta_s() == pytest.approx(20.0)  # a and b unknown: 10 s per cell from the rate


def test_plain_lines_merge_when_cells_finish_fast_but_never_hide_failures(monkeypatch):
    clock, lines = Clock(), []
    reporter = PlainReporter(lines.append, clock=clock, width=80)
    reporter.start("r1", to_compute=5, reused=0, skipped=2)
    assert lines == ["run r1: 5 cells to run (2 incompatible pairs skipped)"]
    clock.now += 4.0
    reporter.cell(row(rep=0))  # the first line comes at once, with 4 more cells at 4 s each to go
    clock.now += 0.1
    reporter.cell(row(rep=1))  # 0.1 s later: merged into the next line
    clock.now += 0.1
    reporter.cell(row(rep=2, status="error", reason="RuntimeError: \x1b[31mboom\x1b[0m\nat line 3"))
    clock.now += 0.1
    reporter.cell(row(rep=3))  # merged
    clock.now += 0.1
    reporter.cell(row(rep=4))  # the last cell always gets its line
    assert len(lines) == 5, lines
    assert lines[1] == "[1/5] 8gaussians mlp/dsm #0: done in 1.0 s; eta 16 s"
    assert lines[2].startswith("[3/5] 8gaussians mlp/dsm #2: error in 1.0 s; 1 more finished; eta ")
    assert lines[3] == "    RuntimeError: boom at line 3"  # the reason, one line, no escapes
    assert lines[4] == "[5/5] 8gaussians mlp/dsm #4: done in 1.0 s; 1 more finished"
    assert all(len(line) <= 80 for line in lines)


def test_a_long_reason_is_cut_to_the_width_but_names_are_not():
    lines = []
    reporter = PlainReporter(lines.append, clock=Clock(), width=80)
    reporter.start("r1", to_compute=2, reused=0, skipped=0)
    label = "autoencoder[hidden=64]/margin_square[candidates=8,radius=0.05]"
    reporter.cell(row(status="diverged", label=label, reason="non-finite loss " * 20))
    line, reason = lines[1:]
    assert label in line  # names are never cut: the status goes on its own line instead
    assert line.splitlines()[1].startswith("    #0: diverged in 1.0 s")
    assert all(len(part) <= 80 for part in line.splitlines())
    assert len(reason) == 80 and reason.endswith("...") and reason.startswith("    non-finite loss")


def test_long_names_take_the_short_counts_then_a_second_line():
    """A log at 80 columns: a line that would pass 80 first trades "N more finished" for
    "+N more", then puts the status on an indented second line; names are never cut."""
    clock, lines = Clock(), []
    reporter = PlainReporter(lines.append, clock=clock, width=80)
    reporter.start("20261201-210620-797c451f33a2", to_compute=9, reused=120, skipped=1738)
    assert lines[0] == "run 20261201-210620-797c451f33a2: 129 cells to run (120 reused, 1738 skipped)"
    assert len(lines[0]) <= 80
    lines.clear()
    reporter.start("r1", to_compute=9, reused=0, skipped=0)
    short, long = "mlp/dsm", "dictionary[atoms=64]/sparse_coding[alpha=0.5]"
    for k, label in enumerate([short, short, short, long, long]):
        clock.now += 0.3 if k in (1, 3) else 5.0  # cells 1 and 3 merge into the next line
        reporter.cell(row(rep=k, label=label, task="digits-inpaint"))
    assert len(lines) == 4, lines
    assert lines[2].startswith("[3/9] digits-inpaint mlp/dsm #2: done in 1.0 s; 1 more finished; eta ")
    reporter.width, reporter.unshown = 66, 1  # such a line in a narrower log: the short count
    assert re.fullmatch(
        r"\[5/9\] digits-inpaint mlp/dsm #2: done in 1.0 s; \+1 more; eta \d+ s",
        reporter.line(row(rep=2, task="digits-inpaint"), False),
    )
    first, second = lines[3].splitlines()
    assert first == "[5/9] digits-inpaint dictionary[atoms=64]/sparse_coding[alpha=0.5]"
    assert second.startswith("    #4: done in 1.0 s; 1 more finished; eta ")
    assert all(len(part) <= 80 for line in lines for part in line.splitlines())


def test_json_reporter_writes_serialisable_cells_from_stored_rows():
    import numpy as np

    lines = []
    reporter = JsonReporter(lines.append)
    reporter.start("r1", to_compute=1, reused=1, skipped=0)
    # rows read back from parquet (reused cells) hold numpy numbers and NaN
    reporter.cell({**row(reused=True), "rep": np.int64(0), "wall_time_s": np.float64("nan")})
    reporter.cell({**row(rep=1), "wall_time_s": np.float64(2.5)})
    events = [json.loads(line) for line in lines]
    assert events[1]["seconds"] is None and events[1]["reused"] is True and events[1]["done"] == 1
    assert events[2]["seconds"] == 2.5 and events[2]["done"] == events[2]["total"] == 2


def test_rich_bar_counts_runnable_cells_only():
    from rich.console import Console

    reporter = RichReporter(Console(file=io.StringIO(), force_terminal=True, width=120))
    with reporter:
        reporter.start("r1", to_compute=3, reused=1, skipped=1738)
        reporter.cell(row(reused=True))
        (task,) = reporter.progress.tasks
        assert (task.total, task.completed) == (4, 1)
        assert "reused" in task.fields["last"]


def test_auto_is_rich_on_a_terminal_and_plain_otherwise():
    def kind(mode, quiet=False, isatty=False):
        return type(make_reporter(mode, quiet, isatty, print, None)).__name__

    assert kind("auto", isatty=False) == "PlainReporter"
    assert kind("json", isatty=True) == "JsonReporter"
    assert kind("auto", quiet=True) == "Reporter"  # nothing while cells run
    from ebmbench.cli import PROGRESS_MODES

    assert progress.MODES == PROGRESS_MODES == ("auto", "rich", "plain", "json")  # --progress's choices


# ------------------------------------------------------------------------ interrupts
@pytest.mark.parametrize("extra", [(), ("--progress", "json")])
def test_ctrl_c_names_resume_and_report(monkeypatch, tmp_path, extra):
    """The run is stopped by Ctrl-C after it started: the message says how to go on."""
    import ebmbench.runner

    store = SimpleNamespace(run_id="20260101-000000-ctrlc", dir=tmp_path / "runs" / "20260101-000000-ctrlc")

    def interrupted(registry, cfg, cells, *, on_start, on_cell, **kw):
        on_start(store, 1, 0)
        raise KeyboardInterrupt

    monkeypatch.setattr(ebmbench.runner, "execute", interrupted)
    r = invoke("run", *SMOKE, "--out", tmp_path, *extra)
    assert r.exit_code == 130, (r.output, r.stderr)
    message = r.stderr.strip().splitlines()[-1]
    assert f"ebmbench report {store.run_id} --out {tmp_path}" in message
    assert f"ebmbench run --resume {store.run_id} --out {tmp_path}" in message
