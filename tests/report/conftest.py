"""Fixtures of the report tests: a synthetic run (report_fixtures.make_run) and its report."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import make_run


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("report-run"))


@pytest.fixture(scope="session")
def built_report(synthetic_run, tmp_path_factory):
    """The full report of the synthetic run (built once per session: it takes seconds)."""
    from ebmbench.report import build_report

    return build_report(synthetic_run, tmp_path_factory.mktemp("report-out"))
