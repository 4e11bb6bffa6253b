"""A pytest plugin (entry point `pytest11`): a plugin package's own test suite checks a suite
against its committed baseline.

    pytest --ebmbench-suite ci --ebmbench-baseline results/baselines/ci.json

adds one test, `ebmbench-regression[ci]`, that runs the suite (`ebmbench run --suite`,
in a subprocess: the same isolation and the same numbers as the command line) and
fails, with the markdown comparison as its message, when `ebmbench compare` finds a
regression. In a test of one's own, the `ebmbench_regression` fixture does the same:

    def test_no_regression(ebmbench_regression):
        ebmbench_regression("mysuite", "results/baselines/mysuite.json")

The conformance kit (`ebmbench.testing.conformance_suite`) is parametrised here too: a
test function it made gets one case per entry and check.

Nothing here is imported before a test asks for it, so installing ebmbench costs other
projects' pytest runs nothing.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["check_suite", "RegressionFound"]


class RegressionFound(AssertionError):
    """A suite got worse than its baseline; the message is the markdown comparison."""


def check_suite(
    suite: str,
    baseline: str | Path,
    root: str | Path,
    jobs: int | None = None,
    metrics: tuple[str, ...] = (),
    extra_args: tuple[str, ...] = (),
):
    """Run `suite` under `root`, compare the run with `baseline`; the comparison table.

    Raises RegressionFound (an AssertionError) on a regression, RuntimeError when the
    run itself fails to start (bad suite name, broken plugin: its one-line message)."""
    from ebmbench.compare_view import render_markdown
    from ebmbench.results.baseline import load_side
    from ebmbench.results.compare import CompareConfig, compare_sides, has_regression
    from ebmbench.results.runs import find_run

    cmd = [sys.executable, "-m", "ebmbench", "run", "--suite", suite, "--out", str(root), "--no-report"]
    cmd += [*(["-j", str(jobs)] if jobs else []), *extra_args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 1: a cell erred, which the comparison reports
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise RuntimeError(f"ebmbench run --suite {suite} failed: {last}")
    base = load_side(str(baseline), Path(root))
    cur = load_side(str(find_run(Path(root), None)), Path(root))
    table = compare_sides(base, cur, CompareConfig(metrics=tuple(metrics) or None))
    if has_regression(table):
        raise RegressionFound(render_markdown(table, base.name, cur.name))
    return table


def pytest_addoption(parser):
    group = parser.getgroup("ebmbench", "ebmbench regression check")
    group.addoption("--ebmbench-suite", default=None, metavar="NAME", help="Run this ebmbench suite as a test.")
    group.addoption(
        "--ebmbench-baseline", default=None, metavar="FILE", help="Baseline to compare with (ebmbench baseline save)."
    )
    group.addoption(
        "--ebmbench-root", default=None, metavar="DIR", help="Results root for the suite's run (default: a temp dir)."
    )
    group.addoption("--ebmbench-jobs", type=int, default=None, metavar="N", help="Cells side by side.")
    group.addoption(
        "--ebmbench-run-args",
        default="",
        metavar="ARGS",
        help='More options for `ebmbench run`, one string (e.g. "--timeout 600").',
    )


def pytest_configure(config):
    # the conformance kit's marker (ebmbench.testing.conformance_suite); `slow` marks its
    # smoke-cell checks, registered here too so an author's project need not declare it
    config.addinivalue_line("markers", "ebmbench_conformance(config): parametrised by the ebmbench conformance kit")
    if not any(line.split(":")[0].strip() == "slow" for line in config.getini("markers")):
        config.addinivalue_line("markers", "slow: ebmbench conformance checks that run whole smoke-profile cells")
    suite, baseline = config.getoption("--ebmbench-suite"), config.getoption("--ebmbench-baseline")
    if (suite is None) != (baseline is None):
        raise pytest.UsageError("--ebmbench-suite and --ebmbench-baseline go together")


class RegressionItem(pytest.Item):
    """The test `--ebmbench-suite` adds."""

    def runtest(self):
        config = self.config
        root = config.getoption("--ebmbench-root")
        if root is None:
            root = config._tmp_path_factory.mktemp("ebmbench")  # pytest's own temp folders
        check_suite(
            config.getoption("--ebmbench-suite"),
            config.getoption("--ebmbench-baseline"),
            root,
            jobs=config.getoption("--ebmbench-jobs"),
            extra_args=tuple(shlex.split(config.getoption("--ebmbench-run-args"))),
        )

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, RegressionFound | RuntimeError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.name


def pytest_collection_modifyitems(session, config, items):
    suite = config.getoption("--ebmbench-suite")
    if suite is not None:
        items.append(RegressionItem.from_parent(session, name=f"ebmbench-regression[{suite}]"))


def pytest_generate_tests(metafunc):
    """One test per case of the conformance kit, for a function conformance_suite() made."""
    marker = metafunc.definition.get_closest_marker("ebmbench_conformance")
    if marker is None or "ebmbench_case" not in metafunc.fixturenames:
        return
    from ebmbench.testing import kit_for

    params = []
    for case in kit_for(marker.args[0]).cases():
        marks = [pytest.mark.slow] if case.slow else []
        marks += [pytest.mark.skip(reason=case.skip)] if case.skip else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("ebmbench_case", params)


@pytest.fixture
def ebmbench_regression(tmp_path):
    """`check(suite, baseline, **options)`: run the suite, fail the test on a regression."""

    def check(suite: str, baseline: str | Path, **options):
        options.setdefault("root", tmp_path / "results")
        return check_suite(suite, baseline, **options)

    return check
