"""Torch modules of the `oracle` model: E(y, x) = -log p(y | x) of the task's own law.

Imported only when an oracle is built (this file imports torch). Every module returns
the energy in y's dtype and computes in float64: the energies are compared with
exact entropies to a few 1e-3 nats, and the conditional quadratures subtract large
numbers. A density that is exactly zero (checkerboard's empty cells) gets the finite
energy `-log floor` instead of +inf: evaluation must stay finite on uniform noise, and
the floor is the reference densities' own (toy2d_density.FLOOR spread over the domain).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["OracleEnergy", "ExactOracle", "GridOracle", "HornOracle", "BranchesOracle"]


class OracleEnergy(nn.Module):
    """-log p(y | x) from `log_p`, with -inf (p = 0) replaced by the floor's log."""

    def __init__(self, log_floor: float):
        super().__init__()
        self.log_floor = float(log_floor)

    def log_p(self, y, x):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def forward(self, y, x=None):
        lp = self.log_p(y, x)
        lp = torch.where(torch.isneginf(lp), torch.full_like(lp, self.log_floor), lp)
        return (-lp).to(y.dtype)


class ExactOracle(OracleEnergy):
    """The task's own `log_density(y, x)` (8gaussians, checkerboard, rings, any task declaring
    ground truth "log_density"), or another method of the task with the same signature
    (`reference_log_density` of a plugin task without a grid). The task object is kept as a
    plain attribute: its log-density builds its constants on y's device, nothing moves."""

    def __init__(self, task, log_floor: float, attr: str = "log_density"):
        super().__init__(log_floor)
        self.task, self.attr = task, attr

    def log_p(self, y, x):
        fn = getattr(self.task, self.attr)
        return (fn(y, x) if self.task.kind == "conditional" else fn(y)).double()


class GridOracle(OracleEnergy):
    """A density tabulated on the evaluation grid (the cached reference density of a
    sample-only 2-D task), interpolated bilinearly as `reference_log_density` does."""

    def __init__(self, density, outside: float):
        super().__init__(math.log(outside))
        self.register_buffer("density", density.to(torch.float64).clone())  # never the shared memo
        self.outside = float(outside)

    def log_p(self, y, x):
        from ebmbench_plugins.tasks.grid import grid_interpolate  # differentiable in y: samplers need the score

        return torch.log(grid_interpolate(self.density, y, outside=self.outside))


class HornOracle(OracleEnergy):
    """horn: y | x = rho(x) * (cos t, sin t) + N(0, s^2 I) with t ~ U[0, 2pi), so

        p(y | x) = (1 / 2pi) int_0^2pi N2(y - rho(x) * (cos t, sin t); s^2 I) dt,

    computed by the trapezoid rule on `n_angles` equally spaced t. The integrand is smooth
    and periodic, so the rule converges geometrically once the arc between two nodes is
    below the noise: with 2048 nodes it is at most 2pi * 14.8 / 2048 = 0.045 < s = 0.05 on
    the largest ellipse (x = 1), where the relative error is ~exp(-2 pi^2 (s / arc)^2) ~ 1e-10.
    Squared distances by expansion, |y|^2 - 2 (y * rho) . u + (rho^2) . u^2, so memory is
    [B, n_angles] and not [B, n_angles, 2].

    Only a window of the nodes is summed: a coarse pass over every COARSE-th node finds
    the nearest one, and the rule sums the 2 * HALF_WINDOW nodes around it. The terms left
    out lie at least 128 nodes (0.39 rad) along the curve from the nearest point; the
    curve's speed |c'(t)| is at least min rho = 1.5, so they are 0.59 = 11.8 noise stds
    away and weigh below exp(-69) of the sum. Where the curvature makes the decay slower
    (points halfway to a centre of curvature, >= 0.56 = 11 stds off the curve) the density
    itself is below exp(-60), under the floor. 6x fewer terms than the full rule (the horn
    oracle's cell spent 4 of its 5 smoke minutes here).
    """

    COARSE = 32  # every 32nd node (64 nodes) for the nearest-node search
    HALF_WINDOW = 128 + 16  # 128 nodes each side, plus the coarse search's +-16 node error

    def __init__(self, radii_fn, noise: float, log_floor: float, n_angles: int = 2048):
        super().__init__(log_floor)
        t = torch.arange(n_angles, dtype=torch.float64) * (2 * math.pi / n_angles)
        self.register_buffer("unit", torch.stack([torch.cos(t), torch.sin(t)], 1))  # [K, 2]
        self.radii_fn, self.noise = radii_fn, float(noise)

    CHUNK = 1024  # rows per [rows, n_angles] block: 16 MB of float64 each

    def log_p(self, y, x):
        s2 = self.noise**2
        yd = y.to(torch.float64)
        rho = self.radii_fn(x.to(yd.device)).to(torch.float64)  # [B, 2]
        n = self.unit.shape[0]
        coarse = self.unit[:: self.COARSE]  # [n / COARSE, 2]
        offsets = torch.arange(-self.HALF_WINDOW, self.HALF_WINDOW, device=yd.device)
        out = []
        for i in range(0, yd.shape[0], self.CHUNK):
            yc, rc = yd[i : i + self.CHUNK], rho[i : i + self.CHUNK]
            a, b = yc * rc, rc * rc
            nearest = ((b @ (coarse**2).T) - 2 * a @ coarse.T).argmin(1) * self.COARSE  # |y|^2 is common
            if 2 * self.HALF_WINDOW < n:
                u = self.unit[(nearest[:, None] + offsets) % n]  # [rows, W, 2]
                d2 = (yc * yc).sum(1, keepdim=True) - 2 * (a[:, None, :] * u).sum(2) + (b[:, None, :] * u * u).sum(2)
            else:
                d2 = (yc * yc).sum(1, keepdim=True) - 2 * a @ self.unit.T + b @ (self.unit**2).T
            out.append(torch.logsumexp(-d2.clamp_min(0) / (2 * s2), 1))
        log_mean = torch.cat(out) - math.log(n) if out else yd.new_zeros(0)
        return log_mean - math.log(2 * math.pi * s2)


class BranchesOracle(OracleEnergy):
    """branches: y | x is the equal mixture of N(f_k(x), s^2), k = 0, 1, 2, exactly."""

    def __init__(self, branch_fn, noise: float, log_floor: float):
        super().__init__(log_floor)
        self.branch_fn, self.noise = branch_fn, float(noise)

    def log_p(self, y, x):
        f = self.branch_fn(x.to(y.device)).to(torch.float64)  # [B, K]
        z = (y.to(torch.float64).reshape(-1, 1) - f) / self.noise
        k = f.shape[1]
        return torch.logsumexp(-0.5 * z * z, 1) - math.log(k) - math.log(self.noise * math.sqrt(2 * math.pi))
