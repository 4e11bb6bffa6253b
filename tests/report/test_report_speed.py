"""Speed of what a reader waits for (issue 13): `ebmbench report` and `ebmbench show` of
the synthetic run, as pytest-benchmark benchmarks (never wall-clock asserts). The
figures a `run --all` report needs took 18-20 s on this project's 2-core machine; these
track that path from commit to commit (`tox -e bench`, `tox -e bench-compare`).

Run: `pytest -m slow tests/report/test_report_speed.py --benchmark-enable`.
"""

from __future__ import annotations

import pytest
from support import invoke

pytestmark = [pytest.mark.slow, pytest.mark.bench]


def test_report_build_speed(benchmark, synthetic_run, tmp_path):
    from ebmbench.report import build_report

    result = benchmark.pedantic(lambda: build_report(synthetic_run, tmp_path), rounds=2, iterations=1)
    assert result.html.exists() and not result.problems
    benchmark.extra_info["figures"] = len(result.figures)
    benchmark.extra_info["html_bytes"] = result.html.stat().st_size


def test_show_speed(benchmark, synthetic_run):
    root = synthetic_run.parent.parent  # <root>/runs/<id>
    result = benchmark.pedantic(lambda: invoke("show", synthetic_run.name, "--out", root), rounds=3, iterations=1)
    assert result.exit_code == 0, result.stderr
    assert "ranked by mmd2" in result.stdout
