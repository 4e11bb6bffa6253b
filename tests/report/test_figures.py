"""Report figures (ebmbench/report/figures.py, landscapes.py, style.py): every figure
kind on a synthetic run, files that decode, only the figures that apply, and the
numerical helpers against direct computations."""

from __future__ import annotations

import importlib
import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from report_fixtures import make_run
from scipy.special import softmax

from ebmbench.report import FIGURE_MAKERS
from ebmbench.report.data import RunData, load_run, param_value
from ebmbench.report.figures import pareto_front
from ebmbench.report.landscapes import density, mosaic
from ebmbench.report.style import FigureWriter, slug, theme, tx

# each maker runs on the tasks it needs (fewer tasks: a faster test), with the figures expected
CASES = {
    "rank_heatmap": (None, ["ranks"]),
    "cost_quality": (["toy", "horn"], ["cost-quality", "cost-time"]),
    "metric_comparison": (["horn", "toy"], ["metrics-horn", "metrics-toy"]),
    "training_curves": (["toy"], ["curves-toy"]),
    "beta_sweep": (["toy"], ["beta-sweep-toy"]),
    "energy_landscapes": (None, ["landscapes"]),
    "conditional_inference": (None, ["conditional-horn", "conditional-line"]),
    "image_galleries": (None, ["gallery-digits"]),
    "inpainting": (None, ["inpainting-digits-inpaint"]),
}
# makers whose figures also come as SVG: a few hundred marks each (the rest are dense or images)
VECTOR = ("rank_heatmap", "cost_quality", "beta_sweep")


def subset(run, tasks):
    """The same run restricted to some tasks."""
    if tasks is None:
        return run
    return RunData(
        run.run_dir,
        run.meta,
        run.df[run.df["task"].isin(tasks)].reset_index(drop=True),
        run.curves[run.curves["task"].isin(tasks)].reset_index(drop=True),
    )


def _make(run, maker: str, out_dir):
    module = {name: mod for mod, name in FIGURE_MAKERS}[maker]
    writer = FigureWriter(out_dir)
    with theme():
        getattr(importlib.import_module(f"ebmbench.report.{module}"), maker)(run, writer)
    return writer.figures


@pytest.fixture(scope="module")
def run(synthetic_run):
    return load_run(synthetic_run)


@pytest.mark.parametrize("maker", list(CASES))
def test_figure_files(run, maker, tmp_path):
    tasks, expected = CASES[maker]
    figures = _make(subset(run, tasks), maker, tmp_path)
    assert [f.name for f in figures] == expected
    for f in figures:
        with Image.open(f.png) as img:
            img.load()  # decodes the whole file
            assert img.width > 300 and img.height > 150
            assert (img.width, img.height) == (f.width, f.height)
        assert (f.svg is not None) == (maker in VECTOR)  # SVG only where it is worth its size
        if f.svg is not None:
            assert ET.parse(f.svg).getroot().tag.endswith("svg")
        assert f.title and f.caption


def test_beta_sweep_marks_infinity(run, tmp_path):
    (fig,) = _make(subset(run, ["line"]), "beta_sweep", tmp_path)
    assert "∞" in fig.svg.read_text()  # β = inf (F∞) sits on its own tick


def test_plugin_text_is_literal_in_figures(run, tmp_path):
    """A label with "$...$" is drawn as typed: no mathtext parse (which would raise)."""
    fig = _make(subset(run, ["toy"]), "cost_quality", tmp_path)[0]
    svg = fig.svg.read_text()
    assert "mlp[w=$5|a_{$]/nce" in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg  # SVG text is XML-escaped


def test_svg_is_reproducible(run, tmp_path):
    a = _make(run, "rank_heatmap", tmp_path / "a")[0].svg.read_bytes()
    b = _make(run, "rank_heatmap", tmp_path / "b")[0].svg.read_bytes()
    assert a == b


def test_only_applicable_figures(tmp_path):
    """No artifacts: no landscapes, galleries or inference figures; no β sweep without β."""
    bare = load_run(make_run(tmp_path / "bare", seeds=2, artifacts=False, problems=False))
    for maker in ("energy_landscapes", "conditional_inference", "image_galleries", "inpainting"):
        assert _make(bare, maker, tmp_path / maker) == []
    no_beta = RunData(bare.run_dir, bare.meta, bare.df[~bare.df["model"].str.startswith("kmeans")], bare.curves)
    assert _make(no_beta, "beta_sweep", tmp_path / "beta") == []


# ----------------------------------------------------------------- numerical helpers
def _dominated(i, times, scores, higher):
    better = (lambda a, b: a > b) if higher else (lambda a, b: a < b)
    return any(
        times[j] <= times[i]
        and (better(scores[j], scores[i]) or scores[j] == scores[i])
        and (times[j] < times[i] or better(scores[j], scores[i]))
        for j in range(len(times))
        if j != i
    )


@pytest.mark.parametrize("higher", [False, True])
def test_pareto_front_matches_brute_force(higher):
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 12))
        times = list(rng.integers(1, 6, n).astype(float))  # ties on purpose
        scores = list(rng.integers(1, 6, n).astype(float))
        front = set(pareto_front(times, scores, higher))
        brute = {i for i in range(n) if not _dominated(i, times, scores, higher)}
        # identical duplicates are all non-dominated; the front keeps one of each
        uniq = {(times[i], scores[i]) for i in brute}
        assert {(times[i], scores[i]) for i in front} == uniq
        assert front <= brute


def test_density_is_softmax_of_minus_energy():
    rng = np.random.default_rng(2)
    e = rng.normal(size=(7, 9)) * 50 + 1000  # large energies: exp(-E) underflows unless shifted
    np.testing.assert_allclose(density(e), softmax(-e.ravel()).reshape(e.shape), rtol=1e-10)
    e[0, 0] = np.nan
    p = density(e)
    assert p[0, 0] == 0 and p.sum() == pytest.approx(1.0)
    assert not density(np.full((2, 2), np.inf)).any()


def test_mosaic_tiles_images_with_gutters():
    imgs = np.arange(5 * 4, dtype=float).reshape(5, 4)  # five 2x2 images
    canvas = mosaic(imgs, (2, 2), ncols=3, pad=1)
    assert canvas.shape == (2 * 2 + 1, 3 * 2 + 2)
    for k, (r, c) in zip(range(5), itertools.product(range(2), range(3))):
        np.testing.assert_array_equal(canvas[3 * r : 3 * r + 2, 3 * c : 3 * c + 2], imgs[k].reshape(2, 2))
    assert np.isnan(canvas[2]).all() and np.isnan(canvas[:, 2]).all()
    assert np.isnan(canvas[3:, 6:]).all()  # the sixth slot is empty


def test_text_helpers():
    assert tx("a $x$ b") == r"a \$x\$ b"
    assert slug("digits-inpaint") == "digits-inpaint" and slug("<a b>/c") == "a_b_c"
    assert param_value('{"beta": Infinity, "k": 8}', "beta") == np.inf
    assert param_value('{"k": 8}', "beta") is None and param_value("not json", "beta") is None
