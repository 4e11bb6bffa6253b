"""Small arrays saved at the end of a cell for the figures that need the trained model.

Models are not stored, so energy landscapes, sample galleries and inferred argmin
points are computed inside the worker right after the metrics (ebmbench/cell.py
calls `collect`), returned with the cell result as plain lists and written by the
store to `artifacts/<cell_id>.npz` (read back with allow_pickle=False).

Only the first repetition of each (task, model/method) is kept: the figures show
one trained model per pair, and this keeps a large run's folder small.
What is kept depends on the task:

* 2-D unconditional: the energy on a GRID x GRID grid over the domain, up to
  MAX_POINTS model samples and as many test points;
* conditional with a scalar x and a 1-D or 2-D y (branches, horn): for several
  conditions, fresh true draws of y | x and the end points of gradient descent on
  F(x, .) from COND_STARTS uniform starts (the inferred argmin_y points); for a
  1-D y also the energy on an (x, y) grid;
* image tasks (digits: an 8x8 image as y, or its top half as x and bottom half as
  y): up to MAX_IMAGES model samples with their nearest training images, or
  N_INPAINT inpainted test images.
"""

from __future__ import annotations

from typing import Any

from ebmbench.seeding import derive_seed, make_generator

__all__ = [
    "COND_STARTS",
    "COND_X",
    "GRID",
    "MAX_IMAGES",
    "MAX_POINTS",
    "N_INPAINT",
    "collect",
    "image_shape",
]

GRID = 120  # fine enough to show a spiral arm, 14 400 energy evaluations
MAX_POINTS = 500  # model samples / data points overlaid on a landscape
MAX_IMAGES = 32  # digits samples in a gallery
N_INPAINT = 8  # inpainted test images
COND_X = 5  # conditions shown per 2-D conditional task (each a curve of answers)
COND_X_1D = 25  # conditions for 1-D y: the argmin points then trace the branches over x
COND_STARTS = 32  # descents per condition: enough to trace every branch of y | x
COND_TRUE = 200  # true draws of y | x per condition


def image_shape(task) -> tuple[int, int] | None:
    """(rows, cols) of the full image a task's y (plus x, for inpainting) forms, if any.

    A task declares `image_shape` (contracts.Task); none is ever guessed from its name.
    The full image must have as many pixels as y, or as x and y together (x = the top
    rows, y = the rest, row-major).
    """
    shape = getattr(task, "image_shape", None)
    if shape is None:
        return None
    pixels = int(shape[0]) * int(shape[1])
    if task.dim == pixels or task.dim + getattr(task, "x_dim", 0) == pixels:
        return int(shape[0]), int(shape[1])
    return None


def collect(ectx, spec) -> dict[str, Any]:
    """The report arrays of one finished cell (nested lists, JSON-able); {} if none apply."""
    if spec.rep != 0:
        return {}
    task = ectx.task
    if image_shape(task) is not None:
        arrays = _images(ectx)
    elif task.dim == 2 and task.kind == "unconditional":
        arrays = _landscape(ectx)
    elif task.dim in (1, 2) and task.kind == "conditional" and task.x_dim == 1:
        arrays = _conditional(ectx)
    else:
        return {}
    return {k: v.detach().cpu().float().numpy().tolist() if hasattr(v, "detach") else v for k, v in arrays.items()}


# --------------------------------------------------------------------------- pieces
def _landscape(ectx) -> dict[str, Any]:
    import torch

    (x0, x1), (y0, y1) = ectx.task.domain
    xs = torch.linspace(x0, x1, GRID, device=ectx.device)
    ys = torch.linspace(y0, y1, GRID, device=ectx.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # row = second coordinate, for imshow
    energy = ectx.energy(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).reshape(GRID, GRID)
    samples = ectx.samples().samples[:MAX_POINTS]
    return {
        "grid_energy": energy,
        "grid_extent": [float(x0), float(x1), float(y0), float(y1)],
        "samples": samples,
        "data": ectx.data.test.y[:MAX_POINTS],
    }


def descend(energy, init, steps: int, lo, hi):
    """Adam descent on every row of `init` inside the box [lo, hi]; (points, energies).

    The recipe of the built-in inference metrics, kept
    here so the report does not depend on a plugin: a step proportional to the domain
    width (blind to the energy's scale), large enough to cross the domain in `steps`,
    a cosine schedule, and betas (0.5, 0.9) so descents settle on the minimum.
    """
    import torch

    width = float((hi - lo).mean())
    y = init.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=max(0.02, 3.0 / max(1, steps)) * width, betas=(0.5, 0.9))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        energy(y).sum().backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            y.copy_(torch.max(torch.min(y, hi), lo))
    with torch.no_grad():
        return y.detach(), energy(y).detach()


def _conditional(ectx) -> dict[str, Any]:
    import torch

    dim = ectx.task.dim
    n_x = COND_X if dim == 2 else COND_X_1D
    g = ectx.generator("report-conditional")
    test_x = ectx.data.test.x[:, 0].float()
    qs = torch.linspace(0.02, 0.98, n_x, device=test_x.device)
    cond = torch.quantile(test_x, qs).reshape(-1, 1)  # conditions spread over x's range
    # true draws on the CPU, as the task generators make their data
    g_true = make_generator(derive_seed(ectx.seed, "report-true-conditional"))
    true = ectx.task.sample(n_x * COND_TRUE, g_true, x=cond.repeat_interleave(COND_TRUE, 0).cpu()).y
    dom = ectx.domain()
    lo, hi = dom[:, 0], dom[:, 1]
    rows = cond.repeat_interleave(COND_STARTS, 0)
    init = ectx.uniform(rows.shape[0], g)
    points, energies = descend(lambda y: ectx.model(y, rows), init, ectx.profile.inference_steps, lo, hi)
    out = {
        "cond_x": cond[:, 0],
        "cond_true": true.reshape(n_x, COND_TRUE, dim),
        "cond_argmin": points.reshape(n_x, COND_STARTS, dim),
        "cond_energy": energies.reshape(n_x, COND_STARTS),
    }
    if dim == 1:  # the whole F(x, y) is a 2-D picture: energy on an (x, y) grid
        xs = torch.linspace(float(test_x.min()), float(test_x.max()), GRID // 2, device=ectx.device)
        ys = torch.linspace(float(lo[0]), float(hi[0]), GRID, device=ectx.device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        energy = ectx.energy(gy.reshape(-1, 1), gx.reshape(-1, 1)).reshape(GRID, GRID // 2)
        out.update(cond_grid_energy=energy, cond_grid_extent=[float(xs[0]), float(xs[-1]), float(lo[0]), float(hi[0])])
    return out


def _nearest(images, reference):
    """Index of the nearest reference row (Euclidean) for each image."""
    import torch

    return torch.cdist(images.float(), reference.float()).argmin(1)


def _images(ectx) -> dict[str, Any]:
    import torch

    task, data = ectx.task, ectx.data
    lo, hi = (float(v) for v in ectx.domain().reshape(-1, 2)[0])
    out: dict[str, Any] = {"image_shape": list(image_shape(task)), "pixel_range": [lo, hi]}
    if task.kind == "unconditional":
        samples = ectx.samples().samples[:MAX_IMAGES]
        out["images"] = samples
        out["nearest"] = data.train.y[_nearest(samples, data.train.y)]
        out["real"] = data.test.y[: MAX_IMAGES // 2]
        return out
    # inpainting: y (bottom rows) given x (top rows); argmin_y F(x, y), best of several starts
    n = min(N_INPAINT, len(data.test))
    starts = max(1, ectx.profile.inference_starts)
    x = data.test.x[:n]
    rows = x.repeat_interleave(starts, 0)
    dom = ectx.domain()
    g = ectx.generator("report-inpaint")
    y, e = descend(
        lambda y: ectx.model(y, rows),
        ectx.uniform(rows.shape[0], g),
        ectx.profile.inference_steps,
        dom[:, 0],
        dom[:, 1],
    )
    best = e.reshape(n, starts).argmin(1)
    pred = y.reshape(n, starts, -1)[torch.arange(n), best]
    full_train = torch.cat([data.train.x, data.train.y], 1)
    full_pred = torch.cat([x, pred], 1)
    out.update(
        inpaint_x=x,
        inpaint_true=data.test.y[:n],
        inpaint_pred=pred,
        nearest=full_train[_nearest(full_pred, full_train)],
    )
    return out
