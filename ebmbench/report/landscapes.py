"""Figures of the trained models, drawn from the arrays each cell saved
(ebmbench.execution.artifacts): 2-D energy landscapes with samples, image galleries
and inpaintings (tasks that declare an `image_shape`), and conditional inference on
tasks with a scalar x. Which figure a task gets follows from the arrays it saved,
never from its name.

All are PNG only: they are images and rasterised point clouds, which an SVG would
carry as the same raster, only larger.
"""

from __future__ import annotations

from ebmbench.report.data import RunData
from ebmbench.report.style import PAGE, FigureWriter, grid_rects, slug, text_inches, tx

__all__ = ["conditional_inference", "density", "energy_landscapes", "image_galleries", "inpainting", "mosaic"]


def _with(run: RunData, key: str) -> tuple[list[str], list[str]]:
    """(tasks, labels) that have a saved array `key`, in report order."""
    tasks, found = [], set()
    for task in run.tasks:
        for lab in run.labels:
            arrays = run.artifacts(task, lab)
            if arrays is not None and key in arrays:
                if task not in tasks:
                    tasks.append(task)
                found.add(lab)
    return tasks, [lab for lab in run.labels if lab in found]


def density(energy):
    """exp(-E) normalised to sum 1 on the grid (non-finite energies count as zero density)."""
    import numpy as np

    e = np.asarray(energy, dtype=np.float64)
    finite = np.isfinite(e)
    if not finite.any():
        return np.zeros_like(e)
    p = np.where(finite, np.exp(-(e - e[finite].min())), 0.0)  # shifted: no overflow
    return p / p.sum()


def _row_label(ax, text):
    ax.set_ylabel(tx(text), rotation=0, ha="right", va="center", fontsize=6.5)


# ------------------------------------------------------------------------ landscapes
GAP = 0.06  # inches between landscape panels


def _landscape_axes(fig, labels: list[str], n_tasks: int) -> list[list]:
    """Square panels, a row per model/method (its label measured for the left margin) and a
    column per task, under the title and the task names; placed with fixed margins
    (style.grid_rects: constrained layout took 2 s on ~100 panels). Sizes the figure."""
    left = text_inches(fig, labels, 6.5)[0] + 0.12
    size = min(1.3, (PAGE - left - 0.1 - (n_tasks - 1) * GAP) / n_tasks)
    top = 0.55  # the title and the task names
    rows = [(n_tasks, size, top if i == 0 else GAP) for i in range(len(labels))]
    fig.set_size_inches(left + n_tasks * size + (n_tasks - 1) * GAP + 0.1, sum(h + a for _, h, a in rows) + 0.1)
    return [[fig.add_axes(r) for r in row] for row in grid_rects(fig, rows, left=left, right=0.1, wgap=GAP)]


def energy_landscapes(run: RunData, out: FigureWriter) -> None:
    tasks, labels = _with(run, "grid_energy")
    if not tasks:
        return
    fig = out.new(PAGE, 10.0, layout=None)
    axes = _landscape_axes(fig, [tx(lab) for lab in labels], len(tasks))
    for i, lab in enumerate(labels):
        for j, task in enumerate(tasks):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            arrays = run.artifacts(task, lab)
            if i == 0:
                ax.set_title(tx(task), fontsize=7)
            if j == 0:
                _row_label(ax, lab)
            if arrays is None or "grid_energy" not in arrays:
                ax.set_facecolor("0.93")
                continue
            x0, x1, y0, y1 = (float(v) for v in arrays["grid_extent"])
            p = density(arrays["grid_energy"])
            ax.imshow(
                p / max(p.max(), 1e-300),
                origin="lower",
                extent=(x0, x1, y0, y1),
                cmap="magma",
                vmin=0,
                vmax=1,
                aspect="equal",
            )
            d, s = arrays["data"], arrays["samples"]
            ax.scatter(d[:, 0], d[:, 1], s=0.9, c="white", alpha=0.5, linewidths=0, rasterized=True)
            ax.scatter(s[:, 0], s[:, 1], s=0.9, c="#34d1ff", alpha=0.8, linewidths=0, rasterized=True)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
    fig.suptitle(
        "exp(−E) normalised on the grid · white: test data · blue: model samples",
        y=1 - 0.06 / fig.get_size_inches()[1],
        va="top",
    )
    out.save(
        fig,
        "landscapes",
        "Energy landscapes (2-D tasks)",
        "The learned density exp(−E), normalised on a 120×120 grid over each task's domain (each panel "
        "scaled to its own maximum), with test data (white) and the model's own samples (blue); one "
        "trained model (first seed) per panel.",
        "model",
        vector=False,  # images and rasterised points: an SVG would only wrap the same raster
    )


# -------------------------------------------------------------------------- galleries
def mosaic(images, shape, ncols: int, pad: int = 1):
    """Tile flat images into one array with NaN gutters (shown as background)."""
    import numpy as np

    images = np.asarray(images, dtype=np.float32).reshape(-1, *shape)
    n = len(images)
    nrows = max(1, -(-n // ncols))
    h, w = shape
    canvas = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), np.nan, dtype=np.float32)
    for k, img in enumerate(images):
        r, c = divmod(k, ncols)
        canvas[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return canvas


def _show(ax, canvas, vmin, vmax):
    import matplotlib

    cmap = matplotlib.colormaps["gray_r"].with_extremes(bad="white")
    ax.imshow(canvas, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def image_galleries(run: RunData, out: FigureWriter) -> None:
    """Model samples of image tasks beside their nearest training images."""
    tasks, _ = _with(run, "images")
    for task in tasks:
        labels = [lab for lab in run.labels if (run.artifacts(task, lab) or {}).get("images") is not None]
        first = run.artifacts(task, labels[0])
        shape = run.image_shape(task, first)
        vmin, vmax = (float(v) for v in first["pixel_range"])
        fig = out.new(PAGE, 0.45 + 0.75 * (len(labels) + 1))
        axes = fig.subplots(len(labels) + 1, 2, squeeze=False)
        _show(axes[0, 0], mosaic(first["real"], shape, 16), vmin, vmax)
        _row_label(axes[0, 0], "test data")
        axes[0, 0].set_title("model samples")
        axes[0, 1].set_title("nearest training image")
        axes[0, 1].axis("off")
        for i, lab in enumerate(labels, 1):
            arrays = run.artifacts(task, lab)
            _show(axes[i, 0], mosaic(arrays["images"], shape, 16), vmin, vmax)
            _show(axes[i, 1], mosaic(arrays["nearest"], shape, 16), vmin, vmax)
            _row_label(axes[i, 0], lab)
        out.save(
            fig,
            f"gallery-{slug(task)}",
            f"Samples — {task}",
            "Model samples (the method's own sampler, first seed) and, beside them, the nearest "
            "training image of each (Euclidean): copies of the training set show up as twins.",
            "model",
            task,
            vector=False,  # images and rasterised points: an SVG would only wrap the same raster
        )


def inpainting(run: RunData, out: FigureWriter) -> None:
    import numpy as np

    tasks, _ = _with(run, "inpaint_pred")
    for task in tasks:
        labels = [lab for lab in run.labels if (run.artifacts(task, lab) or {}).get("inpaint_pred") is not None]
        first = run.artifacts(task, labels[0])
        shape = run.image_shape(task, first)
        vmin, vmax = (float(v) for v in first["pixel_range"])
        x = first["inpaint_x"]
        masked = np.concatenate([x, np.full_like(first["inpaint_true"], np.nan)], 1)
        truth = np.concatenate([x, first["inpaint_true"]], 1)
        fig = out.new(PAGE, 0.5 + 0.55 * (len(labels) + 1))
        axes = fig.subplots(len(labels) + 1, 2, squeeze=False)
        _show(axes[0, 0], mosaic(masked, shape, len(x)), vmin, vmax)
        _show(axes[0, 1], mosaic(truth, shape, len(x)), vmin, vmax)
        axes[0, 0].set_title("given: the top half")
        axes[0, 1].set_title("truth")
        axes[1, 0].set_title("inpainted")
        axes[1, 1].set_title("nearest training image")
        _row_label(axes[0, 0], "test data")
        for i, lab in enumerate(labels, 1):
            arrays = run.artifacts(task, lab)
            full = np.concatenate([arrays["inpaint_x"], arrays["inpaint_pred"]], 1)
            _show(axes[i, 0], mosaic(full, shape, len(full)), vmin, vmax)
            _show(axes[i, 1], mosaic(arrays["nearest"], shape, len(full)), vmin, vmax)
            _row_label(axes[i, 0], lab)
        out.save(
            fig,
            f"inpainting-{slug(task)}",
            f"Inpainting — {task}",
            "The bottom half of test images inferred as argmin_y F(x, y) given the top half x (best of "
            "several descents, first seed), beside the nearest training image of each completion.",
            "model",
            task,
            vector=False,  # images and rasterised points: an SVG would only wrap the same raster
        )


# ------------------------------------------------------------------ conditional tasks
def _conditional_panel(ax, arrays, cmap, norm) -> None:
    import numpy as np

    xs, true, found = arrays["cond_x"], arrays["cond_true"], arrays["cond_argmin"]
    if true.shape[-1] == 2:  # y in the plane: one colour per condition x
        for k, x in enumerate(xs):
            colour = cmap(norm(float(x)))
            ax.scatter(true[k, :, 0], true[k, :, 1], s=1.2, color=colour, alpha=0.3, linewidths=0, rasterized=True)
            ax.scatter(
                found[k, :, 0], found[k, :, 1], s=8, color=colour, edgecolors="black", linewidths=0.3, rasterized=True
            )
        ax.set_aspect("equal", adjustable="datalim")
        return
    # y on a line: x horizontal, y vertical, p(y | x) from the energy grid behind
    if "cond_grid_energy" in arrays:
        e = np.asarray(arrays["cond_grid_energy"], dtype=np.float64)
        p = np.stack([density(e[:, j]) for j in range(e.shape[1])], 1)  # normalised per column x
        ax.imshow(
            p / np.maximum(p.max(0, keepdims=True), 1e-300),
            origin="lower",
            aspect="auto",
            extent=tuple(float(v) for v in arrays["cond_grid_extent"]),
            cmap="magma",
            vmin=0,
            vmax=1,
        )
    reps = np.repeat(xs, true.shape[1])
    ax.scatter(reps, true[..., 0].reshape(-1), s=0.8, c="white", alpha=0.5, linewidths=0, rasterized=True)
    ax.scatter(
        np.repeat(xs, found.shape[1]),
        found[..., 0].reshape(-1),
        s=8,
        c="#34d1ff",
        edgecolors="black",
        linewidths=0.3,
        rasterized=True,
    )


def conditional_inference(run: RunData, out: FigureWriter) -> None:
    import matplotlib
    import numpy as np

    tasks, _ = _with(run, "cond_argmin")
    cmap = matplotlib.colormaps["viridis"]
    for task in tasks:
        labels = [lab for lab in run.labels if "cond_argmin" in (run.artifacts(task, lab) or {})]
        planar = run.artifacts(task, labels[0])["cond_true"].shape[-1] == 2
        ncols = min(5, len(labels))
        nrows = -(-len(labels) // ncols)
        size = PAGE / ncols
        fig = out.new(PAGE, 0.5 + size * nrows * (1.0 if planar else 0.8))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        xs = np.concatenate([run.artifacts(task, lab)["cond_x"] for lab in labels])
        norm = matplotlib.colors.Normalize(float(xs.min()), max(float(xs.max()), float(xs.min()) + 1e-9))
        for ax, lab in zip(axes.flat, labels):
            _conditional_panel(ax, run.artifacts(task, lab), cmap, norm)
            ax.set_title(tx(lab), fontsize=6.5, fontweight="normal")
            ax.grid(False)
            ax.tick_params(labelsize=5.5)
        for ax in list(axes.flat)[len(labels) :]:
            ax.set_visible(False)
        if planar:
            fig.colorbar(
                matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap),
                ax=axes,
                shrink=0.5,
                label="condition x",
                location="bottom",
                aspect=40,
            )
            how = (
                "true draws of y | x (faint) and the end points of gradient descent on F(x, ·) from uniform "
                "starts (outlined), for several conditions x coloured alike"
            )
        else:
            how = (
                "p(y | x) ∝ exp(−F(x, y)) normalised for each x (background), true draws (white) and the end "
                "points of gradient descent on F(x, ·) from uniform starts (blue), against x"
            )
        out.save(
            fig,
            f"conditional-{slug(task)}",
            f"Conditional inference — {task}",
            f"{how}. A good energy has minima on every branch of the true curve and nowhere else (first seed).",
            "model",
            task,
            vector=False,  # images and rasterised points: an SVG would only wrap the same raster
        )
