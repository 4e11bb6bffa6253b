"""Leaderboards for a reader (issue 13): `show` and `list` fitted to 80, 120 and 200
columns without a squeezed cell, headline columns, honest intervals, the rank's
coverage, the negative-MMD² footnote, skipped pairs in one line, and a fast `show`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats
from support import invoke

from ebmbench.results.store import RunStore

RUN_ID = "20260101-000000-abcdef123456"
LABELS = ("mlp/dsm[sigma=0.1]", "mlp/nce", "kmeans/kmeans[k=16]", "mlp/pcd[steps=20]")
HEADLINE = ("mmd2", "coverage", "energy_gap_std")
METRICS = ("nll_grid", *HEADLINE, *(f"extra_{i:02d}" for i in range(26)))  # 30 metric columns


def value(task: str, j: int, i: int, rep: int) -> float:
    """Deterministic, distinct values: method j, metric i, seed rep."""
    return round(1 + j + 0.01 * i + 0.05 * rep + (0.5 if task == "rings" else 0), 6)


def make_run(root, seeds=3, labels=LABELS, tasks=("8gaussians", "rings"), negative_mmd2=False, extra_rows=()):
    directions = {m: "lower" for m in METRICS}
    directions.update(coverage="higher", energy_gap_std="higher")
    meta = {
        "run_id": RUN_ID,
        "status": "finished",
        "n_cells": len(tasks) * len(labels) * seeds,
        "profile": {"name": "smoke"},
        "metric_directions": directions,
        "main_metrics": {t: "nll_grid" for t in tasks},
        "headline_metrics": {t: list(HEADLINE) for t in tasks},
    }
    store = RunStore.create(root, RUN_ID, meta)
    for task in tasks:
        for j, label in enumerate(labels):
            for rep in range(seeds):
                row = base_row(task, label, rep, "done")
                row.update({m: value(task, j, i, rep) for i, m in enumerate(METRICS)})
                if negative_mmd2 and j == 0:
                    row["mmd2"] = -0.002 - 0.001 * rep
                store.add(row, [])
    for row in extra_rows:
        store.add(row, [])
    return root


def base_row(task, label, rep, status, reason=None):
    model, method = label.split("/", 1)
    return {
        "cell_id": f"{task}|{label}|{rep}",
        "task": task,
        "model": model,
        "method": method,
        "label": label,
        "rep": rep,
        "seed": rep,
        "status": status,
        "reason": reason,
        "train_time_s": 1.0,
    }


def show(root, *args, columns=80):
    r = invoke("show", "--out", root, *args, env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, (r.output, r.stderr, r.exception)
    return r.stdout


def lines_fit(out: str, width: int) -> None:
    too_long = [line for line in out.splitlines() if len(line) > width]
    assert too_long == [], too_long


def table_of(out: str, task: str) -> list[str]:
    """The lines of one task's leaderboard: its title up to the blank line after it."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{task} — "))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return lines[start:end]


def main_cell(task: str, j: int, seeds: int) -> str:
    """The main metric's cell as it must read: mean ± t-interval half-width."""
    v = [value(task, j, 0, rep) for rep in range(seeds)]
    lo, hi = stats.t.interval(0.95, seeds - 1, loc=np.mean(v), scale=stats.sem(v))
    return f"{np.mean(v):#.3g} ± {(hi - lo) / 2:.2g}"


# ----------------------------------------------------------------- fitting
def test_80_columns_every_line_fits_and_every_main_value_reads(tmp_path):
    out = show(make_run(tmp_path))
    lines_fit(out, 80)
    for task in ("8gaussians", "rings"):
        table = "\n".join(table_of(out, task))
        for j, label in enumerate(LABELS):
            assert label in table  # names whole, never folded
            assert main_cell(task, j, 3) in table  # numbers whole, never folded
        assert "rank" in table and "model/method" in table and "nll_grid ↓" in table and "3 done" in table
    # the dropped columns are counted, with the command that shows them
    hints = [line for line in out.splitlines() if "more columns" in line]
    assert len(hints) == 2 and all("--all-columns" in h for h in hints)
    assert int(hints[0].split()[0]) >= 27


def test_columns_are_dropped_whole_never_squeezed(tmp_path):
    out = show(make_run(tmp_path))
    header = table_of(out, "8gaussians")[1]
    shown = re.split(r"\s{3,}", header.strip())
    assert shown[:3] == ["rank", "model/method", "nll_grid ↓"]
    for name in shown:  # every header whole: a column is there entirely or not at all
        assert name in {"rank", "model/method", "status", *(f"{m} {a}" for m in METRICS for a in "↑↓")}
    body = table_of(out, "8gaussians")[3:]
    assert all(line.split() for line in body)  # no empty rows of squeezed cells


def test_200_columns_show_every_headline_metric(tmp_path):
    root = make_run(tmp_path)
    narrow = table_of(show(root), "8gaussians")[1]
    wide_out = show(root, columns=200)
    lines_fit(wide_out, 200)
    wide = table_of(wide_out, "8gaussians")[1]
    for col in ("mmd2 ↓", "coverage ↑", "energy_gap_std ↑", "status"):
        assert col in wide
    assert len(re.split(r"\s{3,}", wide.strip())) > len(re.split(r"\s{3,}", narrow.strip()))
    assert "extra_00" not in wide  # the rest waits for --all-columns
    assert "27 more columns" in wide_out  # 26 metrics and train s


def test_120_columns_and_ci_log_fit(tmp_path):
    root = make_run(tmp_path)
    r = invoke("show", "--out", root)  # no COLUMNS, not a terminal: rich's 80, as in a CI log
    for out, width in ((show(root, columns=120), 120), (r.stdout, 80)):
        lines_fit(out, width)
        for j in range(len(LABELS)):
            assert main_cell("8gaussians", j, 3) in out


def test_all_columns_pages_fit_and_hold_every_metric(tmp_path):
    out = show(make_run(tmp_path), "-t", "rings", "--all-columns")
    lines_fit(out, 80)
    for m in METRICS:
        assert m in out
    assert "train s" in out and "more columns" not in out
    # every page repeats rank and model/method
    headers = [line for line in out.splitlines() if line.startswith("rank ")]
    assert len(headers) > 3 and all("model/method" in h for h in headers)


def test_long_labels_are_cut_with_an_ellipsis_only_as_a_last_resort(tmp_path):
    long_label = "mlp/" + "contrastive_divergence_with_persistent_chains[steps=20,step_size=0.01]"
    out = show(make_run(tmp_path, labels=(long_label, "mlp/nce")), columns=60)
    lines_fit(out, 60)
    table = "\n".join(table_of(out, "8gaussians"))
    assert "…" in table and long_label not in table
    assert main_cell("8gaussians", 0, 3) in table  # the number stays whole
    wide = show(tmp_path, columns=200)
    assert long_label in wide and "…" not in wide


def test_markdown_keeps_to_the_headline_columns_unless_all_columns(tmp_path):
    root = make_run(tmp_path)
    md = show(root, "--format", "md")
    header = next(line for line in md.splitlines() if line.startswith("| ") and "rank" in line)
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols == ["rank", "model/method", "nll_grid ↓", "mmd2 ↓", "coverage ↑", "energy_gap_std ↑", "status"]
    assert max(len(line) for line in md.splitlines()) < 160
    assert "27 more columns with `--all-columns`" in md
    full = show(root, "--format", "md", "--all-columns")
    assert "extra_25 ↓" in full and "train s" in full


# --------------------------------------------------------- honest intervals
def test_one_seed_prints_no_interval_and_says_n_1(tmp_path):
    out = show(make_run(tmp_path, seeds=1))
    assert "±" not in out
    assert "n = 1" in table_of(out, "8gaussians")[0]
    assert f"{value('8gaussians', 0, 0, 0):#.3g}" in out


def test_three_seeds_print_the_t_interval_and_name_it(tmp_path):
    out = show(make_run(tmp_path, seeds=3))
    title = table_of(out, "rings")[0]
    assert "95 % t-interval over 3 seeds" in title
    for j in range(len(LABELS)):
        assert main_cell("rings", j, 3) in out


def test_csv_names_the_interval_of_each_row(tmp_path):
    import io

    import pandas as pd

    csv = pd.read_csv(io.StringIO(show(make_run(tmp_path, seeds=2), "--format", "csv")))
    assert set(csv["interval"]) == {"t"} and set(csv["n"]) == {2}


def test_negative_mmd2_gets_a_footnote(tmp_path):
    root = make_run(tmp_path, negative_mmd2=True)
    out = show(root, columns=200)
    assert "mmd2 < 0" in out and "unbiased" in out
    assert "mmd2 < 0" in show(root, "--format", "md", columns=200)
    assert "mmd2 < 0" not in show(make_run(tmp_path / "positive"), columns=200)


def test_the_rank_table_shows_how_many_tasks_each_rank_covers(tmp_path):
    extra = [dict(base_row("solo-task", "mlp/solo", 0, "done"), nll_grid=0.001)]
    root = make_run(tmp_path, extra_rows=extra)
    meta_path = next((root / "runs").iterdir()) / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["main_metrics"]["solo-task"] = "nll_grid"
    meta_path.write_text(json.dumps(meta))
    out = show(root, columns=120)
    ranks = out[out.index("rank by each task's main metric") :].splitlines()
    header = next(line for line in ranks if line.startswith("model/method"))
    assert "tasks" in header and "mean rank" in header
    rows = [line for line in ranks if line.startswith(("mlp/", "kmeans/"))]
    assert rows[-1].startswith("mlp/solo") and rows[-1].split()[1] == "1"  # 1 task, listed last
    assert rows[0].split()[1] == "2"


# ------------------------------------------------------------- skipped pairs
def test_skipped_pairs_are_one_line_and_listed_by_reason(tmp_path):
    reason_a = "method kmeans trains prototype models, mlp is neural"
    reason_b = "model rbm supports unconditional tasks, horn is conditional"
    skipped = [base_row(t, "mlp/kmeans", 0, "skipped", reason_a) for t in ("8gaussians", "rings")]
    skipped += [base_row("rings", f"rbm/m{i}", 0, "skipped", reason_b) for i in range(12)]
    root = make_run(tmp_path, extra_rows=skipped)
    out = show(root)
    lines = [line for line in out.splitlines() if "skipped" in line]
    assert len(lines) == 1 and "14" in lines[0] and "--skipped" in lines[0]
    assert "mlp/kmeans" not in out and "rbm/m3" not in out
    listing = show(root, "--skipped")
    lines_fit(listing, 80)
    assert listing.index(reason_b) < listing.index(reason_a)  # the most frequent reason first
    assert f"{reason_a} (2 pairs)" in listing and "mlp/kmeans: 8gaussians, rings" in listing
    assert "rings: rbm/m0, rbm/m1, " in listing  # one line per task when a model cannot do it
    assert "1 skipped" in show(root, "--skipped", "-t", "8gaussians")


# --------------------------------------------------------------------- list
def test_list_at_80_columns_never_breaks_a_name(tmp_path):
    r = invoke("list", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    lines_fit(r.stdout, 80)
    data = json.loads(invoke("list", "--json").stdout)
    words = set(r.stdout.split())
    for kind, entries in data.items():
        for e in entries:
            assert e["name"] in words, (kind, e["name"])  # whole, on one line
    tasks = invoke("list", "tasks", env={"COLUMNS": "80"}).stdout
    assert "8gaussians" in tasks.split() and "nll_grid" in tasks.split()


# ------------------------------------------------------------ task headlines
def test_every_built_in_task_declares_two_to_four_applicable_headline_metrics():
    from ebmbench.registry import load_registry

    registry = load_registry()
    metrics = set(registry.names("metrics"))
    for name in registry.names("tasks"):
        task = registry.get("tasks", name).cls
        heads = task.headline_metrics
        assert 2 <= len(heads) <= 4 and len(set(heads)) == len(heads), name
        assert task.main_metric not in heads, name
        for m in heads:
            assert m in metrics, (name, m)
            metric = registry.get("metrics", m).cls
            assert task.kind in metric.task_kinds, (name, m)
            assert set(metric.requires) <= set(task.ground_truth), (name, m)
        assert registry.get("tasks", name).describe()["headline_metrics"] == list(heads)


def test_headlines_of_a_run_that_did_not_record_them_come_from_its_plugins():
    from ebmbench.show import headline_metrics

    meta = {
        "entries": {"tasks": {"horn": {"plugin": "tasks.conditional"}}},
        "plugins": [{"name": "tasks.conditional", "module": "ebmbench_plugins.tasks.conditional"}],
    }
    from ebmbench_plugins.tasks.conditional import Horn

    assert headline_metrics(meta, ["horn", "gone"]) == {"horn": Horn.headline_metrics}


# ---------------------------------------------------------------------- speed
def test_show_of_few_seeds_needs_neither_scipy_nor_the_registry(tmp_path):
    """The t quantiles are constants and the headlines come from run.json: `show` loads
    no scipy (~1 s) and no plugins (~0.25 s)."""
    root = make_run(tmp_path, seeds=2)
    code = textwrap.dedent(f"""
        import json, sys
        from click.testing import CliRunner
        from ebmbench.cli import cli
        r = CliRunner().invoke(cli, ["show", "--out", {str(root)!r}])
        print(json.dumps({{"exit": r.exit_code, "scipy": "scipy.stats" in sys.modules,
                          "plugins": any(m.startswith("ebmbench_plugins") for m in sys.modules)}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info == {"exit": 0, "scipy": False, "plugins": False}


@pytest.mark.parametrize("seeds", [1, 2, 5])
def test_numbers_are_deterministic(tmp_path, seeds):
    root = make_run(tmp_path, seeds=seeds)
    assert show(root, "--format", "csv") == show(root, "--format", "csv")
    assert show(root, columns=200) == show(root, columns=200)
