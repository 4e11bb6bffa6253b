"""The evaluation grid of the 2-D tasks, defined once (docs/science.md §4).

Grid-normalised densities, KL divergences and the reference densities of the
sample-only tasks all live on the same cell-centred grid over [-4.5, 4.5]^2: cell
(i, j) has centre (lo + (i + 1/2) h, lo + (j + 1/2) h) with h = 9 / GRID_RES = 1/32, and
the first index runs along y1 (`indexing="ij"`). A density `p` normalised on the
grid means `sum_ij p_ij * cell_area() == 1` (a midpoint Riemann sum).

Metric plugins import from here:

    from ebmbench_plugins.tasks.grid import grid_points, cell_area, GRID_RES
    pts = grid_points()                       # [GRID_RES**2, 2]
    logq = -energy(pts)                       # unnormalised model log-density
    logq = logq - torch.logsumexp(logq, 0) - math.log(cell_area())

and `task.reference_log_density(pts)` is the target on the same points.
"""

from __future__ import annotations

import math

from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = [
    "GRID_DOMAIN",
    "GRID_RES",
    "grid_step",
    "cell_area",
    "grid_axis",
    "grid_points",
    "grid_interpolate",
    "grid_log_normalise",
]

# The grid of docs/science.md §4: every FFJORD sample lies inside [-4.2, 4.2]^2, so the border
# cells carry (numerically) no mass of any 2-D task.
GRID_DOMAIN = (-4.5, 4.5)
# 288 cells per axis: h = 1/32, so every grid line is a dyadic number and the
# checkerboard's cell edges (multiples of 2) fall exactly on grid lines (its exact
# density then integrates to 1 on the grid to rounding); 2.6 cells per sigma of
# the thinnest structure (the 0.08 radial noise of `rings`); 82 944 points.
GRID_RES = 288


def grid_step(res: int = GRID_RES) -> float:
    lo, hi = GRID_DOMAIN
    return (hi - lo) / res


def cell_area(res: int = GRID_RES) -> float:
    return grid_step(res) ** 2


def grid_axis(res: int = GRID_RES, dtype=None, device=None):
    """The `res` cell centres along one axis, ascending."""
    lo, _ = GRID_DOMAIN
    h = grid_step(res)
    return lo + h * (torch.arange(res, dtype=dtype or torch.float64, device=device) + 0.5)


def grid_points(res: int = GRID_RES, dtype=None, device=None):
    """All cell centres, shape [res * res, 2], row-major in (i along y1, j along y2).

    float32 by default (what energy modules take); `.view(res, res)` of any
    per-point quantity gives the [i, j] image.
    """
    a = grid_axis(res, torch.float64, device)
    g1, g2 = torch.meshgrid(a, a, indexing="ij")
    return torch.stack([g1.reshape(-1), g2.reshape(-1)], 1).to(dtype or torch.float32)


def grid_log_normalise(log_values, res: int = GRID_RES):
    """Shift unnormalised log-densities on the grid so exp(.) sums to 1 / cell_area."""
    return log_values - torch.logsumexp(log_values.reshape(-1), 0) - math.log(cell_area(res))


def grid_interpolate(values, y, outside: float = 0.0):
    """Bilinear interpolation of a cell-centred [res, res] array at points y [B, 2].

    Between the outermost centres and the domain's edge the value is held constant
    (nearest centre); strictly outside the domain the result is `outside`.
    Interpolate densities, not log-densities: a log of zero would poison neighbours.
    """
    res = values.shape[0]
    lo, hi = GRID_DOMAIN
    h = grid_step(res)
    v = values.to(device=y.device, dtype=torch.float64)
    yd = y.to(torch.float64)  # differentiable in y (samplers of an oracle energy need the gradient)
    u = ((yd - lo) / h - 0.5).clamp(0, res - 1)  # fractional index of the centre grid
    i0 = u.floor().long().clamp(0, res - 2)
    t = u - i0
    a, b = i0[:, 0], i0[:, 1]
    ta, tb = t[:, 0], t[:, 1]
    out = (
        v[a, b] * (1 - ta) * (1 - tb)
        + v[a + 1, b] * ta * (1 - tb)
        + v[a, b + 1] * (1 - ta) * tb
        + v[a + 1, b + 1] * ta * tb
    )
    inside = ((yd >= lo) & (yd <= hi)).all(1)
    return torch.where(inside, out, torch.full_like(out, outside))
