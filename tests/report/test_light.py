"""A light report (issue 13): report.html within a size budget per figure, figures as
palette PNGs fitted to the page and embedded as lossless WebP, lazily loaded with their
space reserved, SVG only for vector figures, and figure workers that import neither
seaborn nor torch (seconds each)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ebmbench.report.style import PAGE, FigureWriter, theme

DISPLAY_PX = 1050  # style.DISPLAY_PX: the report column's width in CSS pixels

HTML_BASE = 100_000  # bytes of a report.html that are not figures (tables, provenance) for the fixture run
HTML_PER_FIGURE = 40_000  # bytes per embedded figure: 105 000 before the light report, ~21 000 after


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))


def _imgs(page: str) -> list[dict]:
    parser = Images()
    parser.feed(page)
    return parser.imgs


@pytest.mark.slow
def test_html_within_a_size_budget_per_figure(built_report):
    size = built_report.html.stat().st_size
    assert size <= HTML_BASE + HTML_PER_FIGURE * len(built_report.figures), size


@pytest.mark.slow
def test_every_image_is_lazy_with_its_space_reserved(built_report):
    imgs = {img["alt"]: img for img in _imgs(built_report.html.read_text())}
    assert len(imgs) == len(built_report.figures) > 0
    for f in built_report.figures:
        img = imgs[f.title]
        assert img["loading"] == "lazy" and img["decoding"] == "async"
        assert (int(img["width"]), int(img["height"])) == (f.width, f.height)  # no jump when it decodes
        assert f.width <= DISPLAY_PX  # one PNG pixel per CSS pixel, never more than the column


@pytest.mark.slow
def test_figures_are_palette_pngs_and_dense_ones_have_no_svg(built_report):
    for f in built_report.figures:
        with Image.open(f.png) as img:
            assert img.mode == "P", f.name  # every figure of the fixture quantises within tolerance
        if f.name.startswith(("curves-", "metrics-", "landscapes", "gallery-", "inpainting-", "conditional-")):
            assert f.svg is None and not f.png.with_suffix(".svg").exists(), f.name
        webp = Image.open(io.BytesIO(f.embed))
        assert webp.format == "WEBP" and webp.size == (f.width, f.height)
        assert np.array_equal(np.asarray(webp.convert("RGB")), np.asarray(Image.open(f.png).convert("RGB")))


def test_dpi_fits_the_page_column():
    from matplotlib.figure import Figure

    from ebmbench.report.style import fitted_dpi

    assert fitted_dpi(Figure(figsize=(PAGE, 3))) * PAGE == pytest.approx(DISPLAY_PX)
    assert fitted_dpi(Figure(figsize=(2 * PAGE, 3))) * 2 * PAGE == pytest.approx(DISPLAY_PX)  # wide: less dpi
    assert fitted_dpi(Figure(figsize=(3, 3))) == 150  # narrow figures keep their resolution


def test_light_image_keeps_a_plot_and_refuses_a_photo():
    """A plot (few colours plus antialiasing) becomes a palette image within MAX_MEAN_ERROR;
    noise (a photo's worth of colours) stays full colour rather than lose visibly."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ebmbench.report.style import MAX_MEAN_ERROR, light_image

    with theme():
        fig = FigureWriter.new(4, 3)
        ax = fig.subplots()
        for k in range(12):
            ax.plot(np.sin(np.linspace(0, 6, 200) + k), label=str(k))
        ax.fill_between(range(200), -0.5, 0.5, alpha=0.2)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    image, mode = light_image(rgba)
    assert mode == "palette"
    err = np.abs(np.asarray(image.convert("RGB"), float) - np.asarray(rgba.convert("RGB"), float)).max(axis=2)
    assert err.mean() <= MAX_MEAN_ERROR and (err == 0).mean() > 0.7
    assert tuple(np.asarray(image.convert("RGB"))[0, 0]) == (255, 255, 255)  # the background stays exact
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300, 4), dtype=np.uint8))
    assert light_image(noise)[1] == "rgb"
    few = Image.fromarray(np.repeat(np.arange(200, dtype=np.uint8)[:, None], 300, 1)).convert("RGBA")
    exact, mode = light_image(few)
    assert np.array_equal(np.asarray(exact.convert("RGB")), np.asarray(few.convert("RGB")))


@pytest.mark.slow
def test_figure_workers_import_neither_seaborn_nor_torch(synthetic_run, tmp_path):
    """A spawned figure worker pays every import: seaborn (scipy.stats, 1.6 s) and torch (2 s,
    pulled in when matplotlib probes a lazily imported torch) are kept out of it."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from ebmbench.report import render_figures\n"
        f"run, out = Path({str(synthetic_run)!r}), Path({str(tmp_path)!r})\n"
        "known = {'families': {'pcd': 'contrastive', 'kmeans': 'architectural'}, 'headlines': {}}\n"
        "work = {'rank_heatmap': None, 'cost_quality': None, 'metric_comparison': 'toy', 'training_curves': 'toy'}\n"
        "for maker, task in work.items():\n"
        "    made, problems = render_figures(run, out, ('figures', maker), task, known)\n"
        "    assert made and not problems, (maker, problems)\n"
        "print(json.dumps(sorted(m for m in ('seaborn', 'torch', 'scipy.stats') if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.splitlines()[-1]) == []
    assert sorted(p.name for p in Path(tmp_path, "figures").glob("*.png"))
