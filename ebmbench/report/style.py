"""One look for every figure: seaborn's paper theme (written out), sizes for a paper's columns,
light PNG output (plus SVG where vector output is worth its size), and no pyplot.

Figures are `matplotlib.figure.Figure` objects drawn on the Agg canvas directly:
no pyplot state, no GUI backend, nothing left open between figures. Text that
comes from plugins or parameters goes through `tx` (a `$` would start mathtext).
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BASE_RC",
    "COLUMN",
    "DISPLAY_PX",
    "DPI",
    "PAGE",
    "FigureInfo",
    "FigureWriter",
    "colormap",
    "decade_axis",
    "decade_text",
    "fitted_dpi",
    "grid_rects",
    "legend_handles",
    "text_inches",
    "light_image",
    "slug",
    "theme",
    "tx",
    "webp_bytes",
]

COLUMN = 3.4  # inches: one column of a two-column paper
PAGE = 7.0  # inches: the full text width
DPI = 150  # PNG resolution: 1050 px across a page; the SVG is there for print
DISPLAY_PX = 1050  # CSS pixels a figure fills in report.html (its column is 1060 px)
# a palette PNG replaces the full-colour one only while it stays this close to it (0-255 levels)
MAX_MEAN_ERROR = 3.0  # mean over pixels of the largest channel error: ~1 %
MAX_P99_ERROR = 32  # 99th percentile: only antialiased edges may move, by at most 1/8 of the range
SAMPLE = 5  # palette fitting and its error read every 5th pixel: 200 000+ of a page figure, 5x less work
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tx(text) -> str:
    """Plugin text made literal for matplotlib (no mathtext)."""
    return str(text).replace("$", r"\$")


def slug(text) -> str:
    """A file-name-safe form of a task or metric name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "x"


def decade_text(value: float, pos=None) -> str:
    """The label of a log tick in plain Unicode: "10³", "−10⁻²", "0" for a decade, "" between
    decades. Matplotlib's default writes them in mathtext, whose parser cost seconds per
    figure with many log panels."""
    if value == 0:
        return "0"
    exponent = math.log10(abs(value))
    if abs(exponent - round(exponent)) > 1e-6:
        return ""
    return ("−" if value < 0 else "") + "10" + str(round(exponent)).translate(SUPERSCRIPT)


def decade_axis(axis, formatter=decade_text) -> None:
    """Plain-Unicode decade labels and no minor ticks on a log or symlog axis: the theme
    draws no minor grid, and each of the ~40 invisible minor ticks of a log axis is
    a tick object laid out on every draw."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    axis.set_major_formatter(FuncFormatter(formatter))
    axis.set_minor_locator(NullLocator())


# seaborn 0.13's "whitegrid" style with its "paper" context at font_scale 0.9, the look the
# figures were designed in, written out: importing seaborn (it imports scipy.stats) cost each
# figure worker 1.6 s, and only these values were used from it
BASE_RC = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.edgecolor": ".8",
    "axes.labelcolor": ".15",
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.linewidth": 1.0,
    "grid.color": ".8",
    "grid.linestyle": "-",
    "grid.linewidth": 0.8,
    "text.color": ".15",
    "xtick.color": ".15",
    "ytick.color": ".15",
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.top": False,
    "xtick.bottom": False,
    "ytick.left": False,
    "ytick.right": False,
    "xtick.major.width": 1.0,
    "ytick.major.width": 1.0,
    "xtick.minor.width": 0.8,
    "ytick.minor.width": 0.8,
    "xtick.major.size": 4.8,
    "ytick.major.size": 4.8,
    "xtick.minor.size": 3.2,
    "ytick.minor.size": 3.2,
    "lines.solid_capstyle": "round",
    "lines.markersize": 4.8,
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "patch.linewidth": 0.8,
    "font.size": 8.64,
}
# seaborn's "crest" and "flare" ramps (perceptually uniform, told apart by hue), nine stops each
RAMPS = {
    "crest": ("#a5cd90", "#81bc91", "#61aa90", "#48988f", "#33858d", "#20728b", "#1e5d86", "#27477d", "#2c3172"),
    "flare": ("#edb081", "#ea916e", "#e5715e", "#d9535d", "#c14168", "#a3386f", "#863071", "#672a6b", "#4b2362"),
}


def colormap(name: str):
    """A matplotlib colormap by name, including the RAMPS above."""
    import matplotlib
    from matplotlib.colors import LinearSegmentedColormap

    if name in RAMPS:
        return LinearSegmentedColormap.from_list(name, RAMPS[name])
    return matplotlib.colormaps[name]


@contextmanager
def theme():
    """The report's look (BASE_RC and sizes for a paper's columns), as an rc context:
    nothing global changes."""
    import matplotlib

    rc = dict(BASE_RC)
    rc.update(
        {
            "font.family": "DejaVu Sans",  # ships with matplotlib: identical output everywhere
            "svg.fonttype": "none",  # SVG text stays text: small, searchable, editable
            "svg.hashsalt": "ebmbench",  # deterministic SVG ids
            "axes.titlesize": 8,
            "axes.labelsize": 7.5,
            "xtick.labelsize": 6.5,
            "ytick.labelsize": 6.5,
            "legend.fontsize": 6.5,
            "legend.title_fontsize": 7,
            "figure.titlesize": 9,
            "axes.titleweight": "bold",
            # titles at a fixed height: matplotlib's automatic placement (which looks for tick
            # labels on top, never drawn here) measured every axis again on each draw
            "axes.titley": 1.0,
            "lines.linewidth": 1.2,
            "image.interpolation": "nearest",
            "savefig.facecolor": "white",
        }
    )
    with matplotlib.rc_context(rc):
        yield


def fitted_dpi(fig) -> float:
    """The PNG resolution of a figure: DPI, or less when the figure is wider than the
    report's column, so that no PNG has pixels the page would only scale away."""
    return min(DPI, DISPLAY_PX / fig.get_size_inches()[0])


def _exact_palette(rgb):
    """The image in palette mode without any loss, when it has at most 256 colours (else None)."""
    import numpy as np
    from PIL import Image

    a = np.asarray(rgb, dtype=np.uint32)
    packed = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]
    colours, index = np.unique(packed.ravel(), return_inverse=True)
    if len(colours) > 256:
        return None
    out = Image.fromarray(index.reshape(packed.shape).astype(np.uint8), "P")
    palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], 1).astype(np.uint8)
    out.putpalette(palette.ravel().tolist())
    return out


def _quantised(rgb):
    """256 colours (octree), then each palette entry moved onto the pixels it stands for: the
    most frequent exact colour when that is most of them (the white background, a line's
    colour come out exact), else their mean (a gradient). Returns (image, mean error,
    99th-percentile error) in 0-255 levels, over a sample of every SAMPLE-th pixel."""
    import numpy as np
    from PIL import Image

    q = rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    a = np.asarray(rgb).reshape(-1, 3)[::SAMPLE]
    idx = np.asarray(q).reshape(-1)[::SAMPLE].astype(np.int64)
    n = np.bincount(idx, minlength=256)
    sums = np.stack([np.bincount(idx, weights=a[:, c], minlength=256) for c in range(3)], 1)
    palette = np.rint(sums / np.maximum(n, 1)[:, None])
    packed = (a[:, 0].astype(np.int64) << 16) | (a[:, 1].astype(np.int64) << 8) | a[:, 2]
    keys, counts = np.unique(idx << 24 | packed, return_counts=True)
    order = np.lexsort((counts, keys >> 24))  # by entry, most frequent colour last
    last = order[np.r_[(keys[order] >> 24)[1:] != (keys[order] >> 24)[:-1], True]]
    entry, colour = keys[last] >> 24, keys[last] & 0xFFFFFF
    flat = counts[last] * 2 >= n[entry]
    palette[entry[flat]] = np.stack([colour >> 16, (colour >> 8) & 255, colour & 255], 1)[flat]
    palette = palette.astype(np.uint8)
    q.putpalette(palette.ravel().tolist())
    err = np.abs(a.astype(np.int16) - palette[idx]).max(axis=1)
    return q, float(err.mean()), float(np.percentile(err, 99))


def light_image(rgba):
    """The smallest image that looks like an RGBA figure buffer: 256 colours when that is
    close enough (a plot is a few flat colours plus their antialiased edges), else the
    exact palette of an image with at most 256 colours, else full colour. Returns (image,
    mode): "palette", "exact" or "rgb". Plots come out 3-4x smaller than matplotlib's
    own RGBA PNG, with no visible change (MAX_MEAN_ERROR, MAX_P99_ERROR)."""
    rgb = rgba.convert("RGB")  # figures are opaque: the alpha channel is all 255
    q, mean_err, p99_err = _quantised(rgb)
    if mean_err <= MAX_MEAN_ERROR and p99_err <= MAX_P99_ERROR:
        return q, "palette"
    exact = _exact_palette(rgb) if rgb.getcolors(256) is not None else None
    return (exact, "exact") if exact is not None else (rgb, "rgb")


def webp_bytes(image) -> bytes:
    """Lossless WebP of a figure image, for report.html: the same pixels in ~10 % fewer bytes
    than the PNG (every current browser shows WebP; the figure files stay PNG)."""
    import io

    buf = io.BytesIO()
    # lossless: quality is the encoder's effort; the least (0) at method 3 is 2.4x faster
    # than the default (80, method 4) for 16 % more bytes — the report's time matters more
    image.save(buf, "WEBP", lossless=True, method=3, quality=0)
    return buf.getvalue()


def text_inches(fig, texts, size: float) -> tuple[float, float]:
    """The largest width and height (inches) of some texts at a font size, measured by the
    Agg renderer at the resolution the PNG will have (hinting makes widths vary by up to
    10 % between resolutions), plus 3 %. Cheap: no axes is laid out."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    dpi = fitted_dpi(fig)
    renderer = RendererAgg(1, 1, dpi)
    prop = FontProperties(family="DejaVu Sans", size=size)
    sizes = [renderer.get_text_width_height_descent(str(t), prop, ismath=False) for t in texts] or [(0, 0, 0)]
    return 1.03 * max(s[0] for s in sizes) / dpi, 1.03 * max(s[1] for s in sizes) / dpi


def grid_rects(fig, rows, *, left: float, right: float, wgap: float) -> list[list]:
    """Axes rectangles (figure fractions) for rows of equal panels laid out from the top,
    sizes in inches; rows = [(panels in the row, panel height, space above the row), ...].

    For figures drawn without a layout engine: constrained layout measures every tick
    label of every axes twice per draw, 40 % of the time of a page of 25-30 panels,
    while the decorations of a grid of like panels are known in advance."""
    width, height = fig.get_size_inches()
    out, y = [], 0.0
    for ncols, h, above in rows:
        w = (width - left - right - (ncols - 1) * wgap) / ncols
        y += above + h
        out.append([((left + c * (w + wgap)) / width, 1 - y / height, w / width, h / height) for c in range(ncols)])
    return out


@dataclass
class FigureInfo:
    name: str  # file stem under figures/
    title: str
    caption: str
    section: str  # "overview", "task", "model"
    png: Path
    svg: Path | None  # None: PNG only (see FigureWriter.save)
    task: str | None = None
    width: int = 0  # PNG pixels: the size report.html reserves for the image
    height: int = 0
    embed: bytes = field(default=b"", repr=False)  # lossless WebP of the PNG, for report.html


@dataclass
class FigureWriter:
    """Creates figures and saves each as a light PNG, plus SVG for vector figures, under `<out>/figures/`."""

    out_dir: Path
    figures: list[FigureInfo] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return Path(self.out_dir) / "figures"

    @staticmethod
    def new(width: float, height: float, layout: str | None = "constrained", **kw):
        """A figure; layout=None for figures placed with grid_rects."""
        from matplotlib.figure import Figure

        return Figure(figsize=(width, height), layout=layout, **kw)

    def save(
        self,
        fig,
        name: str,
        title: str,
        caption: str,
        section: str,
        task: str | None = None,
        vector: bool = True,
    ) -> FigureInfo:
        """PNG always (report.html embeds it); SVG only with `vector`: figures of a few
        hundred marks, worth editing or printing. Dense figures (hundreds of curves, or
        images) pass vector=False: their SVG is several times the PNG and adds nothing
        a 150-dpi PNG lacks on screen, or embeds the very same raster."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        self.dir.mkdir(parents=True, exist_ok=True)
        png, svg = self.dir / f"{name}.png", (self.dir / f"{name}.svg" if vector else None)
        fig.set_dpi(fitted_dpi(fig))
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # runs the layout engine once
        width, height = canvas.get_width_height()
        image, _ = light_image(Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1))
        image.save(png, "PNG", compress_level=6)  # optimize=True: 5x the time for 8 % less
        embed = webp_bytes(image)
        if svg is not None:
            fig.set_layout_engine("none")  # keep the layout just computed: a second pass costs ~1 s
            fig.savefig(svg, metadata={"Date": None, "Creator": None})  # reproducible files
        info = FigureInfo(name, title, caption, section, png, svg, task, width, height, embed)
        self.figures.append(info)
        return info


def legend_handles(palette: dict, labels, markers: dict | None = None) -> tuple[list, list[str]]:
    """Line handles for a figure-level legend of model/method colours (and markers)."""
    from matplotlib.lines import Line2D

    markers = markers or {}
    handles = [
        Line2D([], [], color=palette[lab], marker=markers.get(lab, "o"), markersize=4, linewidth=1.2) for lab in labels
    ]
    return handles, [tx(lab) for lab in labels]
