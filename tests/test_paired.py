"""`show --metric M --vs LABEL`: differences to a reference row, paired by data draw,
checked against scipy's paired t-test interval."""

import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ebmbench.errors import UsageError
from ebmbench.paired import paired_differences, reference_label
from support import assert_usage_error, invoke, result_row, write_run

# three data draws; the draw moves every row together (+0, +0.3, -0.2), as a real split does
DRAW = {11: 0.0, 22: 0.3, 33: -0.2}
TRUTH = {"ref/kde": 2.0, "mlp/a": 2.05, "mlp/b": 2.5}
NOISE = {("mlp/a", 11): 0.01, ("mlp/a", 22): -0.02, ("mlp/a", 33): 0.004, ("mlp/b", 22): 0.1}


def rows():
    out = []
    for label, base in TRUTH.items():
        for rep, (draw, shift) in enumerate(DRAW.items()):
            if label == "mlp/b" and draw == 33:
                continue  # b never ran on the third draw
            out.append(result_row("t", label, rep, draw, base + shift + NOISE.get((label, draw), 0.0)))
    return out


def test_the_differences_per_draw_match_scipys_paired_t_interval(tmp_path):
    df = pd.DataFrame(rows()).sample(frac=1.0, random_state=3)  # pairing must not rely on row order
    diffs = paired_differences(df, ["nll"], "ref/kde")
    a = diffs[diffs["label"] == "mlp/a"].sort_values("data_seed")["nll"].to_numpy()
    assert a == pytest.approx([0.06, 0.03, 0.054])
    assert set(diffs["label"]) == {"mlp/a", "mlp/b"}  # the reference is not compared with itself

    write_run(tmp_path, "r1", rows())
    result = invoke("show", "--out", tmp_path, "--metric", "nll", "--vs", "ref/kde", "--format", "csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.output)).set_index("label")
    assert set(table["vs"]) == {"ref/kde"}
    ref = np.array([2.0 + s for s in DRAW.values()])
    mine = np.array([2.05 + s + NOISE[("mlp/a", d)] for d, s in DRAW.items()])
    ci = stats.ttest_rel(mine, ref).confidence_interval(0.95)
    got = table.loc["mlp/a"]
    assert (got["mean"], got["ci_low"], got["ci_high"]) == pytest.approx((np.mean(mine - ref), ci.low, ci.high))
    assert got["n"] == 3 and got["interval"] == "t"
    # b shares two draws with the reference: two differences, 0.5 and 0.6
    assert table.loc["mlp/b", "n"] == 2 and table.loc["mlp/b", "mean"] == pytest.approx(0.55)
    # the unpaired intervals are ~10x wider: the draw's spread is shared by both rows
    spread = stats.t.ppf(0.975, 2) * np.std(mine, ddof=1) / np.sqrt(3)
    assert spread > 5 * (ci.high - ci.low) / 2


def test_the_reference_measured_twice_on_one_draw_counts_as_its_mean():
    df = pd.DataFrame(
        [
            result_row("t", "ref/kde", 0, 11, 1.0),
            result_row("t", "ref/kde", 0, 11, 3.0, seed=9),
            result_row("t", "mlp/a", 0, 11, 2.5),
        ]
    )
    diffs = paired_differences(df, ["nll"], "ref/kde")
    assert diffs["nll"].tolist() == [0.5]


def test_tasks_and_failed_cells_are_kept_apart():
    df = pd.DataFrame(
        [
            result_row("t", "ref/kde", 0, 11, 1.0),
            result_row("u", "ref/kde", 0, 11, 5.0),  # same data seed, other task: not a pair of t's cells
            result_row("t", "mlp/a", 0, 11, 1.5),
            result_row("u", "mlp/a", 0, 11, 7.0),
            result_row("t", "mlp/a", 1, 22, None, status="error"),
        ]
    )
    diffs = paired_differences(df, ["nll"], "ref/kde").set_index("task")
    assert diffs["nll"].to_dict() == {"t": 0.5, "u": 2.0}


def test_an_unknown_reference_or_rows_without_data_seeds_are_usage_errors(tmp_path):
    df = pd.DataFrame(rows())
    with pytest.raises(UsageError, match="did you mean 'ref/kde'"):
        reference_label(df, "ref/kd")
    with pytest.raises(UsageError, match="no data seed"):
        paired_differences(df.assign(data_seed=None), ["nll"], "ref/kde")
    write_run(tmp_path, "r1", rows())
    assert_usage_error(invoke("show", "--out", tmp_path, "--metric", "nll", "--vs", "kde"), "unknown label 'kde'")
    assert_usage_error(invoke("show", "--out", tmp_path, "--vs", "ref/kde"), "--vs needs --metric")


def test_the_markdown_pivot_names_the_reference_and_the_pairing(tmp_path):
    write_run(tmp_path, "r1", rows())
    result = invoke("show", "--out", tmp_path, "--metric", "nll", "--vs", "ref/kde", "--format", "md")
    assert result.exit_code == 0, result.output
    assert "nll − ref/kde, paired by data draw — mean ± 95 % t-interval over 2–3 seeds" in result.output
    line = next(s for s in result.output.splitlines() if s.startswith("| mlp/a"))
    assert "0.0480 ± 0.0" in line  # mean of 0.06, 0.03, 0.054
    assert "| ref/kde" not in result.output
