"""Honest figures (issue 13): cost in gradient evaluations with time as a second view, a
palette by method family with a marker per method and direct labels on the Pareto front,
empty or constant curve panels left out and named, an overall rank that says which tasks
it covers, a note wherever the unbiased MMD² came out negative, intervals named for what
they are, and metric pages with the leaderboard's columns."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from ebmbench.report.data import RunData, load_run
from ebmbench.report.style import FigureWriter, theme

FAMILIES = {"pcd": "contrastive", "dsm": "contrastive", "nce": "contrastive", "kmeans": "architectural"}


@dataclass
class Keep(FigureWriter):
    """A FigureWriter that also keeps each figure object, to read its axes after drawing."""

    kept: dict = field(default_factory=dict)

    def save(self, fig, name, *args, **kw):
        self.kept[name] = fig
        return super().save(fig, name, *args, **kw)


def variant(run, df=None, curves=None, tasks=None) -> RunData:
    """The run with other rows (and families given, so the registry is not loaded)."""
    df = run.df if df is None else df
    curves = run.curves if curves is None else curves
    if tasks is not None:
        df, curves = df[df["task"].isin(tasks)], curves[curves["task"].isin(tasks)]
    out = RunData(run.run_dir, run.meta, df.reset_index(drop=True), curves.reset_index(drop=True))
    out.__dict__["families"] = {m: FAMILIES.get(m, "other") for m in set(df["method"])}
    return out


def draw(run, maker: str, tmp_path) -> Keep:
    from ebmbench.report import FIGURE_MAKERS

    module = {name: mod for mod, name in FIGURE_MAKERS}[maker]
    writer = Keep(tmp_path)
    with theme():
        getattr(__import__(f"ebmbench.report.{module}", fromlist=[maker]), maker)(run, writer)
    return writer


@pytest.fixture(scope="module")
def run(synthetic_run):
    return load_run(synthetic_run)


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# ---------------------------------------------------------------------------- cost
def test_cost_axis_is_gradient_evaluations_and_time_a_second_view(run, tmp_path):
    out = draw(variant(run, tasks=["toy", "horn"]), "cost_quality", tmp_path)
    assert list(out.kept) == ["cost-quality", "cost-time"]
    main, time_view = out.kept["cost-quality"], out.kept["cost-time"]
    assert "energy-gradient evaluations" in main.get_supxlabel()
    assert time_view.get_supxlabel() == "train time (s)"
    assert "wall time" in out.figures[1].caption


def test_gradient_cost_adds_the_samplers_and_zero_sits_at_its_own_tick(run, tmp_path):
    from ebmbench.report.figures import gradient_cost

    df = run.df.copy()
    df["grad_evals"] = np.where(df["method"] == "pcd", 1e6, np.where(df["method"] == "dsm", 0.0, 5e4))
    df["sampler_grad_evals"] = np.where(df["method"] == "dsm", 0.0, 10.0)
    meta = {**run.meta, "profile": {"name": "quick", "n_samples": 100}}
    v = variant(run, df, tasks=["toy"])
    v.meta = meta
    cost, label = gradient_cost(v, v.done[v.done["task"] == "toy"])
    assert (
        cost["mlp/pcd"] == 1e6 + 10 * 100
        and cost["mlp/dsm"] == 0
        and cost["mlp/<script>alert(1)</script>"] == 5e4 + 1000
    )
    assert "energy-gradient evaluations" in label and "100 evaluation samples" in label

    fig = draw(v, "cost_quality", tmp_path).kept["cost-quality"]
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lo, hi = ax.get_xlim()
    shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
    assert shown[0] == "0" and len(shown) > 2 and all(t.startswith("10") for t in shown[1:])  # 0, then decades


def test_pareto_front_is_labelled_in_place(run, tmp_path):
    from ebmbench.report.figures import pareto_front

    df = run.df.copy()
    df["grad_evals"] = df["method"].map({"pcd": 4e6, "dsm": 2e4, "nce": 3e5}).fillna(1e3)  # pcd best, not cheapest
    v = variant(run, df, tasks=["toy"])
    ax = draw(v, "cost_quality", tmp_path).kept["cost-quality"].axes[0]
    agg = v.agg[(v.agg["task"] == "toy") & (v.agg["metric"] == "mmd2")].set_index("label")
    labels = [lab for lab in v.labels if lab in agg.index]
    cost = df[df["task"] == "toy"].groupby("label")["grad_evals"].mean()[labels]
    front = pareto_front(list(cost), list(agg.loc[labels, "mean"]), higher=False)
    assert sorted(_texts(ax)) == sorted(labels[i] for i in front) and len(front) >= 2


# ------------------------------------------------------------------------- palette
def test_palette_hue_by_family_marker_by_method(run):
    v = variant(run)
    hue = {lab: colorsys.rgb_to_hsv(*v.palette[lab])[0] for lab in v.labels}
    contrastive = [lab for lab in v.labels if v.family(lab) == "contrastive"]
    architectural = [lab for lab in v.labels if v.family(lab) == "architectural"]
    assert contrastive and architectural
    assert all(0.25 < hue[lab] < 0.75 for lab in contrastive)  # green-blue ramp
    assert all(hue[lab] < 0.1 or hue[lab] > 0.75 for lab in architectural)  # orange-red-purple ramp
    assert len({v.palette[lab] for lab in v.labels}) == len(v.labels)  # still one colour each
    by_method = {}
    for lab in v.labels:
        by_method.setdefault((v.family(lab), v.label_methods[lab]), set()).add(v.markers[lab])
    assert all(len(m) == 1 for m in by_method.values())  # one marker per method
    in_family = [m for (fam, _), m in by_method.items() if fam == "contrastive"]
    assert len({next(iter(m)) for m in in_family}) == len(in_family)  # distinct within a family


def test_legend_groups_labels_under_their_family(run, tmp_path):
    fig = draw(variant(run, tasks=["toy"]), "cost_quality", tmp_path).kept["cost-quality"]
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts.index("contrastive") < texts.index("mlp/pcd") < texts.index("architectural")
    assert texts.index("architectural") < texts.index("kmeans[beta=1.0]/kmeans")


def test_method_families_prefer_the_runs_record():
    from ebmbench.report.data import method_families

    meta = {
        "entries": {
            "methods": {
                "pcd": {"plugin": "methods.pcd", "family": "architectural"},  # the run's word wins
                "zz_margin": {"plugin": "methods.margin"},
                "dsm": {"plugin": "methods.dsm"},
            }
        }
    }
    got = method_families(meta, ["pcd", "zz_margin", "dsm", "nowhere"])
    assert got["pcd"] == "architectural" and got["zz_margin"] == "margin" and got["nowhere"] == "other"
    assert got["dsm"] in ("contrastive", "dsm")  # the installed registry's family, else the plugin's


# -------------------------------------------------------------------------- curves
def _with_flat_curves(run):
    """Curves with a constant quantity (a fixed temperature) and one logged once per cell."""
    toy = run.curves[(run.curves["task"] == "toy") & (run.curves["name"] == "loss")]
    temperature = toy.assign(name="temperature", value=1.0)
    once = toy[toy["step"] == 0].assign(name="excess_loss")
    once = once.assign(value=np.arange(len(once), dtype=float))  # one value per cell, never a curve
    return pd.concat([run.curves, temperature, once], ignore_index=True)


def test_flat_panels_are_found():
    from ebmbench.report.figures import flat_panels

    rows = [("c1", "t", s, 1.0) for s in range(5)] + [("c1", "x", 0, 2.0), ("c2", "x", 0, 3.0)]
    rows += [("c1", "loss", s, float(s)) for s in range(5)]
    curves = pd.DataFrame(rows, columns=["cell_id", "name", "step", "value"])
    assert flat_panels(curves) == {"t": "constant 1", "x": "one point per run"}


def test_constant_and_single_point_panels_are_left_out_and_named(run, tmp_path):
    out = draw(variant(run, curves=_with_flat_curves(run), tasks=["toy"]), "training_curves", tmp_path)
    fig = out.kept["curves-toy"]
    ylabels = {ax.get_ylabel() for ax in fig.axes if ax.get_visible()}
    assert {"loss", "energy_gap", "buffer_age"} <= ylabels
    assert not {"temperature", "excess_loss"} & ylabels
    caption = out.figures[0].caption
    assert "Left out" in caption and "temperature (constant 1)" in caption and "excess_loss (one point" in caption
    assert any("temperature (constant 1)" in t.get_text() for t in fig.texts)  # the figure says it too


# --------------------------------------------------------------------------- ranks
def test_overall_rank_is_the_table_show_prints(run):
    """One ranking across tasks for show and the report: summary.rank_table's, with the
    task count beside every mean rank and the tasks every method ran marked as common."""
    from ebmbench.summary import rank_table

    v = variant(run)
    overall = v.overall
    mains = {t: v.main_metric(t) for t in v.tasks if v.main_metric(t)}
    pd.testing.assert_frame_equal(overall.table, rank_table(v.df, v.directions, mains))
    assert overall.common == ["digits", "digits-inpaint", "line", "toy"]  # kmeans* skipped horn
    table = overall.table
    assert table.loc["kmeans[beta=inf]/kmeans", "tasks"] == 4 and table.loc["mlp/pcd", "tasks"] == 5
    assert "tasks each ran" in overall.heading


def test_a_one_task_winner_does_not_head_the_ranks(run, tmp_path):
    """A method that ran one task and won it: with no task common to all, rows go by
    coverage first, and the heatmap prints the task count beside every overall rank."""
    solo = run.df[(run.df["task"] == "horn") & (run.df["label"] == "mlp/pcd")]
    solo = solo.assign(label="solo/pcd", model="solo", inference_error=-1.0, cell_id=solo["cell_id"] + "s")
    v = variant(run, pd.concat([run.df, solo], ignore_index=True))
    assert v.overall.common == []
    table = v.rank_table()
    assert table["model/method"].iloc[-1] == "solo/pcd" and table["tasks"].iloc[-1] == "1"
    assert v.labels[-1] == "solo/pcd"
    ax = draw(v, "rank_heatmap", tmp_path).kept["ranks"].axes[0]
    overall_texts = [t for t in _texts(ax) if "(" in t]
    assert "1 (1)" in overall_texts and len(overall_texts) == len(v.overall.table)
    assert "tasks each ran" in v.overall.heading


# ----------------------------------------------------------------- negative MMD²
def _negative_mmd(run):
    df = run.df.copy()
    df.loc[(df["task"] == "toy") & (df["label"] == "mlp/pcd"), "mmd2"] = -0.004
    return variant(run, df)


def test_negative_unbiased_mmd_is_noted_everywhere(run, tmp_path):
    from ebmbench.report.html import render_html
    from ebmbench.report.markdown import summary_markdown
    from ebmbench.report.tables import metric_tables

    v = _negative_mmd(run)
    assert v.negatives("mmd2", "toy") == ["mlp/pcd"] and v.negatives("mmd2", "digits") == []
    assert variant(run).negatives("mmd2") == []
    page = render_html(v, [], metric_tables(v))
    assert page.count('<p class="note">mmd2 &lt; 0 for mlp/pcd: the unbiased mmd2') == 2  # leaderboard, pivot
    assert "mmd2 ≈ 0" in summary_markdown(v)
    out = draw(variant(run, v.df, tasks=["toy"]), "metric_comparison", tmp_path)
    assert "unbiased mmd2 estimator" in out.figures[0].caption
    ax = next(a for a in out.kept["metrics-toy"].axes if a.get_xlabel().startswith("mmd2"))
    assert any(line.get_xdata()[0] == 0 for line in ax.lines)  # the zero line
    assert "unbiased" not in render_html(variant(run), [], metric_tables(variant(run)))


# ------------------------------------------------------------------------ intervals
def test_intervals_are_named_for_what_they_are(run, tmp_path):
    """One seed: no interval, and no page says "95 % bootstrap CI"; three seeds: the
    t-interval, named in the leaderboard headings, the pivots, the LaTeX and the captions."""
    from ebmbench.report.html import render_html
    from ebmbench.report.markdown import summary_markdown
    from ebmbench.report.tables import metric_tables

    one = variant(run, run.df[run.df["rep"] == 0])
    assert one.interval() == "1 seed (n = 1, no interval)"
    tables = metric_tables(one)
    page, md = render_html(one, [], tables), summary_markdown(one)
    assert "bootstrap" not in page and "95" not in md
    assert "ranked by mmd2 (1 seed (n = 1, no interval))" in page and "(1 seed (n = 1, no interval))" in md
    assert "% mmd2: 1 seed (n = 1, no interval);" in tables[0].to_latex()
    caption = draw(variant(run, one.df, tasks=["toy"]), "metric_comparison", tmp_path).figures[0].caption
    assert "n = 1, no interval" in caption and "bootstrap" not in caption

    three = variant(run)
    assert three.interval("toy", "mmd2") == "mean ± 95 % t-interval over 2–3 seeds; n = 1: no interval" or (
        three.interval("toy", "mmd2").startswith("mean ± 95 % t-interval over")
    )
    page = render_html(three, [], metric_tables(three))
    assert "t-interval over" in page and "bootstrap" not in page


def test_metric_pages_show_the_leaderboards_columns(run, tmp_path):
    """A task's metric figure has the main metric and the task's headline metrics, in that
    order (every metric is in the tables): not a page of every metric."""
    v = variant(run, tasks=["toy"])
    assert v.headlines["toy"] == ("auroc", "beta_cal")
    fig = draw(v, "metric_comparison", tmp_path).kept["metrics-toy"]
    shown = [ax.get_xlabel().split("\n")[0].split(" ")[0] for ax in fig.axes if ax.get_visible()]
    assert shown == ["mmd2", "auroc", "beta_cal"]
