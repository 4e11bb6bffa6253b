"""Torch modules of the `density` model: the laws the baseline methods fit (kde, gaussian).

Imported only when a density model is built or fitted (this file imports torch).
Both are normalised densities, so E = -log p is directly a test NLL and the grid NLL
at beta = 1 is that of the fitted law (up to the grid's quadrature and the mass outside
the grid). Computations in float64: the KDE's squared distances are formed by expansion
(|y|^2 - 2 y.c + |c|^2), which loses digits in float32 when the bandwidth is small.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FittedDensity", "KDEEnergy", "GaussianEnergy"]


class FittedDensity(nn.Module):
    """An empty slot for a fitted law: `fit(law)` installs it, forward is its energy.

    The `density` model builds this before any data is seen; the baseline method decides
    which law goes in (a KDE, a Gaussian), so one model serves every baseline.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.dim = int(dim)
        self.add_module("law", None)

    def fit(self, law: nn.Module) -> None:
        self.law = law

    def generate(self, n, generator, beta=None):
        """n i.i.d. draws of the fitted law (the `decode` sampler's protocol). A normalised
        density has no inverse temperature of its own: it is sampled at beta = 1."""
        if self.law is None:
            raise RuntimeError("the density model is not fitted: train it with a baseline method (kde, gaussian)")
        if beta is not None and float(beta) != 1.0:
            raise ValueError(f"a fitted density is sampled at beta = 1 only, not {beta}")
        return self.law.generate(n, generator)

    def forward(self, y, x=None):
        if self.law is None:
            raise RuntimeError("the density model is not fitted: train it with a baseline method (kde, gaussian)")
        return self.law(y)


def _blocks(y, centres, sq_norms, rows: int):
    """(start, [rows, n] squared distances) block by block, by expansion, clamped at 0.

    One fused addmm and in-place passes: the work is a few passes over each block, so
    its speed is memory bandwidth, and blocks that stay in cache (CHUNK_ENTRIES) and no
    temporaries made the 2-D grid evaluation 2.5x faster than 32 MB blocks."""
    for i in range(0, y.shape[0], rows):
        yc = y[i : i + rows]
        base = sq_norms[None, :] + (yc * yc).sum(1, keepdim=True)
        yield i, torch.addmm(base, yc, centres.T, alpha=-2).clamp_min_(0)


def _dense_logsum(y, centres, sq_norms, h, rows):
    scale = -1 / (2 * h * h)
    parts = [torch.logsumexp(d2.mul_(scale), 1) for _, d2 in _blocks(y, centres, sq_norms, rows)]
    return torch.cat(parts) if parts else y.new_zeros(0)


def _dense_grad(y, centres, sq_norms, h, rows):
    parts = []
    for i, d2 in _blocks(y, centres, sq_norms, rows):
        w = torch.softmax(d2.mul_(-1 / (2 * h * h)), 1)  # posterior weight of each kernel
        parts.append((w @ centres - y[i : i + rows]) / (h * h))
    return torch.cat(parts) if parts else torch.zeros_like(y)


class _KernelLogSum(torch.autograd.Function):
    """log sum_i exp(-|y - c_i|^2 / (2 h^2)) per row of y, with a hand-written backward.

    Autograd would keep every [rows, n] block of the forward pass until backward: 2 GB per
    sampler step for 5 000 chains on 50 000 centres. The backward recomputes the blocks
    instead, grad = (softmax weights @ c - y) / h^2, so memory stays O(B * dim). The backward
    is itself made of torch operations, so a double backward (create_graph) still works.
    With a cell list (`cells`, low dimension) the sums run over the centres near each row,
    and only the rows the cell list cannot bound to its tolerance take the dense sum.
    """

    @staticmethod
    def forward(ctx, y, centres, sq_norms, h, rows, cells):
        ctx.h, ctx.rows, ctx.cells = h, rows, cells
        if cells is None:
            ctx.save_for_backward(y, centres, sq_norms, None)
            return _dense_logsum(y, centres, sq_norms, h, rows)
        lse, dense, _ = cells.logsum(y)
        ctx.save_for_backward(y, centres, sq_norms, dense)
        if bool(dense.any()):
            lse[dense] = _dense_logsum(y[dense], centres, sq_norms, h, rows)
        return lse

    @staticmethod
    def backward(ctx, grad_out):
        y, centres, sq_norms, dense = ctx.saved_tensors
        h, rows, cells = ctx.h, ctx.rows, ctx.cells
        if cells is None:
            grad = _dense_grad(y, centres, sq_norms, h, rows)
        else:
            _, _, grad = cells.logsum(y, grad=True)
            if grad is None:
                grad = torch.zeros_like(y)
            if bool(dense.any()):
                idx = dense.nonzero().squeeze(1)
                grad = grad.index_copy(0, idx, _dense_grad(y[idx], centres, sq_norms, h, rows))
        return grad_out[:, None] * grad, None, None, None, None, None


class KDEEnergy(nn.Module):
    """E(y) = -log (1/n) sum_i N(y; c_i, h^2 I): a Gaussian KDE on the n training points c_i.

    The isotropic kernel of scikit-learn's KernelDensity (bandwidth h in data units).
    Memory: query rows are processed in blocks of CHUNK_ENTRIES / n rows (at least
    MIN_ROWS), so an [rows, n] block stays at 2 MB of float64 whatever n is (a 2-D task's full profile has n = 50 000
    and the evaluation grid 82 944 points; digits has 64 coordinates, which only the matmul
    sees), and gradients recompute the blocks (_KernelLogSum) instead of storing them.
    Speed: in up to 3 dimensions and where the bandwidth is small against the data's
    extent (CellList.usable), a cell list (_kde_cells) sums each row over the centres
    within 9 bandwidths only, with a bounded relative error of 1e-9 (rows it cannot bound
    take the dense sum); `use_cells = False` turns it off.
    """

    CHUNK_ENTRIES = 2**18
    MIN_ROWS = 32  # n = 50 000 centres: 12.8 MB blocks, not one Python step per 5 rows
    MIN_CENTRES_FOR_CELLS = 4096  # below this the dense sum is as fast

    def __init__(self, centres, bandwidth: float):
        super().__init__()
        c = centres.detach().to(torch.float64)
        self.register_buffer("centres", c)
        self.register_buffer("sq_norms", (c * c).sum(1))
        self.bandwidth = float(bandwidth)
        self.use_cells = c.shape[0] >= self.MIN_CENTRES_FOR_CELLS
        self._cells = {}  # (bandwidth, device) -> CellList or None

    def cells(self, bandwidth: float | None = None):
        """The cell list of a bandwidth (default: the fitted one), built on first use and
        kept for the last bandwidth asked (the validation search asks ~30 in turn); None
        where it does not pay."""
        h = self.bandwidth if bandwidth is None else float(bandwidth)
        if not self.use_cells:
            return None
        key = (h, self.centres.device)
        if key not in self._cells:
            from ebmbench_plugins.models._kde_cells import CellList

            keep = {k: v for k, v in self._cells.items() if k[0] == self.bandwidth}
            keep[key] = CellList(self.centres, h) if CellList.usable(self.centres, h) else None
            self._cells = keep
        return self._cells[key]

    def log_density(self, y, bandwidth: float | None = None):
        """log p(y) at bandwidth h (default: the fitted one), float64 [B]."""
        h = self.bandwidth if bandwidth is None else float(bandwidth)
        n, d = self.centres.shape
        rows = max(self.MIN_ROWS, self.CHUNK_ENTRIES // n)
        cells = self.cells(h)
        lse = _KernelLogSum.apply(y.to(torch.float64), self.centres, self.sq_norms, h, rows, cells)
        return lse - math.log(n) - 0.5 * d * math.log(2 * math.pi * h * h)

    def generate(self, n, generator):
        """n exact draws: a centre chosen uniformly, plus N(0, h^2 I)."""
        pick = torch.randint(self.centres.shape[0], (n,), generator=generator, device=generator.device)
        eps = torch.randn(n, self.centres.shape[1], generator=generator, device=generator.device, dtype=torch.float64)
        return self.centres[pick.to(self.centres.device)] + self.bandwidth * eps.to(self.centres.device)

    def forward(self, y, x=None):
        return (-self.log_density(y)).to(y.dtype)


class GaussianEnergy(nn.Module):
    """E(y) = 1/2 |L^-1 (y - mu)|^2 + 1/2 log det(2 pi Sigma), Sigma = L L^T (Cholesky)."""

    def __init__(self, mean, cov):
        super().__init__()
        cov = cov.detach().to(torch.float64)
        chol = torch.linalg.cholesky(cov)
        self.register_buffer("mean", mean.detach().to(torch.float64))
        self.register_buffer("chol", chol)
        d = cov.shape[0]
        self.log_norm = float(0.5 * d * math.log(2 * math.pi) + torch.log(torch.diagonal(chol)).sum())

    def log_density(self, y):
        r = (y.to(torch.float64) - self.mean).T  # [d, B]
        z = torch.linalg.solve_triangular(self.chol, r, upper=False)
        return -0.5 * (z * z).sum(0) - self.log_norm

    def generate(self, n, generator):
        """n exact draws: mean + L eps."""
        eps = torch.randn(n, self.mean.shape[0], generator=generator, device=generator.device, dtype=torch.float64)
        return self.mean + eps.to(self.mean.device) @ self.chol.T

    def forward(self, y, x=None):
        return (-self.log_density(y)).to(y.dtype)
