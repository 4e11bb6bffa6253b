"""Report tables (ebmbench/report/tables.py, markdown.py): bold best per column in the
metric's direction, booktabs LaTeX, escaping of plugin text, status counts."""

from __future__ import annotations

import re

import numpy as np
import pytest
from report_fixtures import XSS

from ebmbench.report.data import load_run
from ebmbench.report.markdown import summary_markdown
from ebmbench.report.tables import md_escape, metric_table, problems, status_counts, write_tables


@pytest.fixture(scope="module")
def run(synthetic_run):
    return load_run(synthetic_run)


def _expected_best(run, metric):
    """Best label per task from the raw rows (mean over done seeds), independently of summary."""
    done = run.df[run.df["status"] == "done"]
    means = done.groupby(["task", "label"])[metric].mean().unstack("task")
    pick = means.idxmin if run.directions[metric] == "lower" else means.idxmax
    return pick().to_dict()


@pytest.mark.parametrize("metric", ["mmd2", "auroc"])
def test_best_in_column_follows_direction(run, metric):
    table = metric_table(run, metric)
    best = {task: table.best.index[table.best[task]].tolist() for task in table.best.columns}
    for task, label in _expected_best(run, metric).items():
        assert best[task] == [label], (task, best[task], label)


def test_unranked_metric_has_no_bold(run):
    table = metric_table(run, "beta_cal")
    assert not table.best.to_numpy().any()
    assert "**" not in table.to_markdown()
    assert "bfseries" not in table.to_latex()


def test_means_match_numpy(run):
    table = metric_table(run, "mmd2")
    done = run.df[run.df["status"] == "done"]
    for (task, label), group in done.groupby(["task", "label"]):
        assert table.means.loc[label, task] == pytest.approx(np.mean(group["mmd2"]))


def test_latex_is_booktabs_escaped_and_bold(run):
    tex = metric_table(run, "mmd2").to_latex()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{table}", r"\caption{mmd2 $\downarrow$}"):
        assert rule in tex
    assert tex.count(r"\bfseries") == len(run.tasks)  # one best per task (no ties in this run)
    assert r"\$5|a" in tex and not re.search(r"(?<!\\)\$5", tex)  # a "$" in a parameter cannot open math
    assert r"$\pm$" in tex and "±" not in tex


def test_html_escapes_plugin_names(run):
    html = metric_table(run, "mmd2").to_html("t0")
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "font-weight: bold" in html


def test_markdown_escapes_and_bolds(run):
    md = metric_table(run, "mmd2").to_markdown()
    assert XSS not in md and "&lt;script&gt;" in md
    assert r"$5\|a" in md  # a "|" in a label does not split the row
    rows = [line for line in md.splitlines() if line.startswith("|")]
    n_cols = rows[0].count("|") - rows[0].count(r"\|")
    assert all(r.count("|") - r.count(r"\|") == n_cols for r in rows)
    assert md.count("**") == 2 * len(run.tasks)


def test_md_escape():
    assert md_escape("a|b<c>*d_e`") == r"a\|b&lt;c&gt;\*d\_e\`"


def test_status_counts_match_rows(run):
    table = status_counts(run).set_index(["task", "model/method"])
    counts = run.df.groupby(["task", "label"])["status"].value_counts()
    for (task, label, status), n in counts.items():
        assert table.loc[(task, label), status] == n
    assert table[["done", "skipped", "error", "diverged", "timeout"]].to_numpy().sum() == len(run.df)
    assert "horn is conditional" in table.loc[("horn", "kmeans[beta=1.0]/kmeans"), "reasons"]


def test_problems_lists_errors_with_tracebacks(run):
    bad = problems(run)
    assert set(bad["status"]) == {"error", "diverged"}
    assert bad["traceback"].notna().any()


def test_write_tables(run, tmp_path):
    paths = write_tables(run, tmp_path, [metric_table(run, m) for m in ("mmd2", "auroc")])
    names = sorted(p.name for p in paths)
    assert names == ["auroc.md", "auroc.tex", "mmd2.md", "mmd2.tex", "status.md"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_summary_markdown(run):
    md = summary_markdown(run)
    assert md.startswith("## ebmbench run 20260101-000000-test")
    assert XSS not in md and "&lt;script&gt;" in md
    assert "### toy — ranked by mmd2" in md
    assert "### Problems (" in md and "diverged" in md
    assert "<details><summary>" in md  # skipped cells folded away
    assert " nan " not in md  # ranks of methods that did not run show a dash
