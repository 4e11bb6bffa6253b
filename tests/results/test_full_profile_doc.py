"""results/full-profile.md stays true: its tables are what `ebmbench show` prints from the
two runs committed beside it (results/full-profile/runs/), so an edit to the file, to the
runs or to the table code that changes a figure fails here."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from ebmbench.cli import cli

RESULTS = Path(__file__).resolve().parents[2] / "results"
RUNS = ["20261202-053549-ce72425cc1e0", "20261202-062248-41ceba3dce0b"]
DOC = RESULTS / "full-profile.md"


def _table(*args: str) -> str:
    """The markdown table `show` prints, without its heading line (the doc gives its own)."""
    out = CliRunner().invoke(cli, ["show", "--out", str(RESULTS / "full-profile"), *RUNS, *args, "--format", "md"])
    assert out.exit_code == 0, out.output
    lines = [line for line in out.output.splitlines() if line.startswith("|")]
    assert len(lines) > 5, out.output
    return "\n".join(lines)


@pytest.mark.parametrize(
    "args",
    [
        ("--metric", "nll_grid", "--digits", "4"),
        ("--metric", "nll_grid_cal", "--digits", "4"),
        ("--metric", "nll_grid", "--vs", "oracle/given", "--digits", "3"),
        ("--metric", "nll_grid", "--vs", "density/kde", "--digits", "3"),
        ("--metric", "nll_grid_cal", "--vs", "density/kde", "--digits", "3"),
        ("-t", "rings", "--digits", "4"),
        ("--metric", "train_time_s", "--digits", "3"),
    ],
    ids=lambda a: " ".join(a),
)
def test_the_documented_table_is_what_show_prints(args):
    assert _table(*args) in DOC.read_text()


def test_every_cell_of_both_runs_is_done():
    from ebmbench.api import load

    df = load([RESULTS / "full-profile" / "runs" / run for run in RUNS])
    ran = df[df.status != "skipped"]
    assert len(ran) == 285 and set(ran.status) == {"done"}
    assert ran.groupby(["task", "label"]).size().eq(5).all()
