"""The HTML report and the `ebmbench report` command (ebmbench/report/html.py,
__init__.py, cli.py): self-contained, every figure embedded, plugin text escaped,
provenance present; and the report step of `ebmbench run`."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from report_fixtures import XSS, make_run

from ebmbench.cli import cli
from ebmbench.report import after_run
from ebmbench.results.runs import load_artifacts, load_results


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(text: str) -> list[tuple[str, dict]]:
    p = Tags()
    p.feed(text)
    return p.tags


@pytest.fixture(scope="module")
def page(built_report) -> str:
    return built_report.html.read_text()


@pytest.mark.slow
def test_self_contained_with_every_figure_embedded(built_report, page):
    tags = parse(page)
    imgs = [a for t, a in tags if t == "img"]
    assert len(imgs) == len(built_report.figures) == 22
    assert all(a["src"].startswith("data:image/webp;base64,") for a in imgs)  # lossless, ~20 % below PNG
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed")]
    for tag, attrs in tags:  # nothing to fetch: only in-page anchors and data: URIs
        for key in ("src", "href"):
            if key in attrs:
                assert attrs[key].startswith(("data:", "#")), (tag, attrs)
    assert "Content-Security-Policy" in page
    for f in built_report.figures:
        assert f.png.exists() and (f.svg is None or f.svg.exists())
    assert (built_report.out_dir / "report.md").exists()
    assert (built_report.out_dir / "tables" / "mmd2.tex").exists()


@pytest.mark.slow
def test_plugin_text_is_escaped_everywhere(page):
    assert XSS not in page
    escaped = html.escape(XSS, quote=False)
    assert page.count(escaped) >= 6  # labels, leaderboards, pivots, error, plugin table, entries, command
    assert "ImportError: " + escaped in page  # the failed plugin's error message
    assert "Traceback\n  " + escaped in page  # the failing cell's traceback, kept verbatim


@pytest.mark.slow
def test_sections_and_provenance(page):
    for anchor in ('id="summary"', 'id="tasks"', 'id="models"', 'id="tables"', 'id="status"', 'id="provenance"'):
        assert anchor in page
    assert "086ed6a0901741db" in page  # an entry's source hash
    assert "6.6.6" in page  # a plugin's version
    assert "ebmbench run --all --seeds 3 -M" in page  # the command line
    assert "non-finite loss=nan at step 3" in page  # a divergence reason
    assert "horn is conditional" in page  # a skip reason
    assert "<strong>Fβ sweep — toy.</strong>" in page
    assert page.count("font-weight: bold") >= 3  # best-in-column in the pivots


def test_report_md_command(synthetic_run, tmp_path):
    """--format md prints the Markdown summary and writes report.md, without drawing figures."""
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["report", str(synthetic_run), "--format", "md", "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.output.startswith("## ebmbench run 20260101-000000-test")
    assert (out / "report.md").read_text() == result.output
    assert not (out / "figures").exists() and not (out / "report.html").exists()


def test_report_unknown_run_is_a_usage_error(tmp_path):
    make_run(tmp_path, seeds=1, artifacts=False)
    result = CliRunner().invoke(cli, ["report", "nope", "--root", str(tmp_path)])
    assert result.exit_code == 2 and "nope" in result.output


def test_after_run_never_fails_the_run(tmp_path, capsys):
    bad = tmp_path / "runs" / "r1"
    bad.mkdir(parents=True)
    (bad / "run.json").write_text("{not json")
    assert after_run(bad) is None
    assert "report: failed" in capsys.readouterr().err


# --------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_run_writes_report_and_artifacts(tmp_path):
    """A real cell: its arrays reach artifacts/<cell>.npz and `run` ends with the report."""
    args = [
        "run",
        "-t",
        "8gaussians",
        "-m",
        "kmeans",
        "-M",
        "kmeans",
        "--profile",
        "smoke",
        "--seeds",
        "1",
        "--metric",
        "mmd2",
        "--out",
        str(tmp_path),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, (result.output, result.exception)
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert "report: " in result.output and (run_dir / "report.html").exists()
    cell = load_results(run_dir)["cell_id"].iloc[0]
    arrays = load_artifacts(run_dir, cell)
    assert arrays["grid_energy"].shape == (120, 120) and np.isfinite(arrays["grid_energy"]).all()
    figures = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    assert "landscapes.png" in figures and "metrics-8gaussians.png" in figures

    result = CliRunner().invoke(cli, [*args, "--no-report"])
    assert result.exit_code == 0
    newest = max((tmp_path / "runs").iterdir())
    assert not (Path(newest) / "report.html").exists() and "report: " not in result.output
