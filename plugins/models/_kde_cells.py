"""A cell list for the KDE's kernel sums in low dimension: only the centres near a query.

The KDE energy is a sum over all n training points. At the full profile (n = 50 000) one
dense energy + gradient of 5 000 rows took 8-22 s here, and a cell's inference descents
alone evaluate millions of rows: hours per cell. A Gaussian kernel at
distance r contributes exp(-r^2 / 2h^2), which is 2.6e-18 at r = 9h, so the sum over the
centres within CUTOFF * h of a query is the whole sum to far below float precision — as
long as the query is near the data. Each row's truncation error is bounded explicitly
(the centres left out number at most n - m and each is farther than the cutoff), and a row
whose bound exceeds TOL relative to its sum (a query far from every centre, e.g. the
corners of the evaluation grid or the noise a descent starts from) is flagged for the
exact dense sum. So the result equals the dense sum to TOL relatively (~1e-9 nats in
log p), never worse, and the speed-up is the ratio of n to the centres near a query.

The cells are a regular grid of side cutoff / SPLIT: every centre within the cutoff of a
query lies in the (2 SPLIT + 1)^d cells around the query's cell, so those are searched.
Torch operations only, so it runs on whatever device the centres are on.
"""

from __future__ import annotations

import bisect
import itertools
import math

import torch

__all__ = ["CellList", "CUTOFF", "TOL"]

CUTOFF = 9.0  # in bandwidths: one kernel at 9h weighs exp(-40.5) = 2.6e-18 of its peak
TOL = 1e-9  # a row's accepted truncation error, relative to its sum
SPLIT = 2  # cells of side cutoff / SPLIT: (2 SPLIT + 1)^d of them around a query cover a
# square of side 2.5 cutoffs, not 3 (SPLIT = 1), so fewer pairs are formed
MAX_DIM = 3  # above d = 3 the neighbour cells cost more than they save
MAX_CELLS = 2**22  # the count/start tables stay under 64 MB
MAX_SEARCHED = 0.25  # the neighbourhood's share of the data's box above which dense is faster
PAIR_BUDGET = 2**21  # (query, centre) pairs handled at once: ~70 MB of float64 temporaries


class CellList:
    """Centres sorted by grid cell, with per-cell counts and starts, for one bandwidth.

    Cells are numbered with the last axis fastest, so the 2 SPLIT + 1 neighbour cells
    along it are one contiguous run of sorted centres: a query reads (2 SPLIT + 1)^(d-1)
    runs, not (2 SPLIT + 1)^d cells. Coordinates are kept one array per axis, because
    gathers and sums over a trailing axis of length 2 are several times slower in torch.
    """

    def __init__(self, centres: torch.Tensor, bandwidth: float):
        c = centres.detach()
        self.n, self.dim = c.shape
        self.radius = CUTOFF * float(bandwidth)
        self.side = self.radius / SPLIT
        self.inv_2h2 = 1.0 / (2.0 * float(bandwidth) ** 2)
        self.origin = c.min(0).values
        coords = ((c - self.origin) / self.side).floor().long()
        self.shape = coords.max(0).values + 1
        strides = [1] * self.dim
        for j in range(self.dim - 2, -1, -1):
            strides[j] = strides[j + 1] * int(self.shape[j + 1])
        self.strides = torch.tensor(strides, device=c.device)
        keys = (coords * self.strides).sum(1)
        self.axes = [col.contiguous() for col in c[keys.argsort(stable=True)].T]
        self.counts = torch.bincount(keys, minlength=int(self.shape.prod()))
        self.starts = self.counts.cumsum(0) - self.counts
        lead = list(itertools.product(range(-SPLIT, SPLIT + 1), repeat=self.dim - 1))
        self.offsets = torch.tensor(lead, dtype=torch.long, device=c.device).reshape(len(lead), self.dim - 1)
        # rows pass if log(n - m) - radius^2 / 2h^2 <= log(TOL) + log-sum
        self.log_far_weight = -(self.radius**2) * self.inv_2h2 - math.log(TOL)

    @staticmethod
    def usable(centres: torch.Tensor, bandwidth: float) -> bool:
        """Whether a cell list pays off: low dimension, a grid of bounded size, and a
        neighbourhood that is a small part of the data's box (a pair costs several dense
        entries, so a bandwidth of the data's own scale is summed densely)."""
        n, dim = centres.shape
        if dim > MAX_DIM or not bandwidth > 0 or not torch.isfinite(centres).all():
            return False
        extent = (centres.max(0).values - centres.min(0).values) / (CUTOFF * bandwidth / SPLIT) + 1
        searched = extent.clamp(max=2 * SPLIT + 1).prod() / extent.prod()
        return float(extent.prod()) <= MAX_CELLS and float(searched) <= MAX_SEARCHED

    def _segments(self, y):
        """[B, (2 SPLIT + 1)^(d-1)] first sorted centre and length of each neighbour run."""
        q = ((y - self.origin) / self.side).floor()
        q = torch.where(torch.isfinite(q), q, torch.full_like(q, -1.0 - 2 * SPLIT)).clamp(-1 - 2 * SPLIT, 2**40).long()
        lead = q[:, None, :-1] + self.offsets[None]  # [B, runs, d-1]
        inside = ((lead >= 0) & (lead < self.shape[:-1])).all(-1)
        last = self.shape[-1]
        lo = (q[:, -1:] - SPLIT).clamp(0, last - 1)
        hi = (q[:, -1:] + SPLIT).clamp(0, last - 1)
        inside = inside & (q[:, -1:] + SPLIT >= 0) & (q[:, -1:] - SPLIT < last)
        base = (torch.minimum(lead.clamp_min(0), self.shape[:-1] - 1) * self.strides[:-1]).sum(-1)
        first, final = self.starts[base + lo], self.starts[base + hi] + self.counts[base + hi]
        return first, torch.where(inside, final - first, 0)

    def _pairs(self, y, starts, counts):
        """(row, centre) index pairs of a block of rows, grouped by row."""
        s, k = starts.reshape(-1), counts.reshape(-1)
        first_out = k.cumsum(0) - k
        total = int(k.sum())
        idx = torch.arange(total, device=y.device) + torch.repeat_interleave(s - first_out, k, output_size=total)
        per_row = counts.sum(1)
        row = torch.repeat_interleave(torch.arange(y.shape[0], device=y.device), per_row, output_size=total)
        return row, idx, per_row

    def _block(self, y, starts, counts, grad: bool):
        """Log of the kernel sum over the near centres per row, and optionally its gradient."""
        row, idx, per_row = self._pairs(y, starts, counts)
        diffs = [axis[idx] - y[:, j][row] for j, axis in enumerate(self.axes)]
        d2 = diffs[0] * diffs[0]
        for dj in diffs[1:]:
            d2 = d2.addcmul(dj, dj)
        # the nearest centre's d2 is a stabiliser: w / s does not depend on it
        dmin = torch.segment_reduce(d2.detach(), "min", lengths=per_row, unsafe=True, initial=math.inf)
        w = torch.exp((dmin[row] - d2) * self.inv_2h2)
        s = torch.segment_reduce(w, "sum", lengths=per_row, unsafe=True, initial=0.0)
        lse = torch.log(s) - dmin * self.inv_2h2  # -inf for a row with no near centre
        if not grad:
            return lse, None
        s = torch.where(s > 0, s, torch.ones_like(s))  # no 0/0 in a row the dense sum replaces
        sums = [torch.segment_reduce(w * dj, "sum", lengths=per_row, unsafe=True, initial=0.0) for dj in diffs]
        pull = torch.stack(sums, 1)
        return lse, pull / s[:, None] * (2 * self.inv_2h2)  # grad = sum_i w_i (c_i - y) / (h^2 s)

    def logsum(self, y, grad: bool = False):
        """(log sum_i exp(-|y - c_i|^2 / 2h^2) over the near centres [B], rows whose
        truncation error may exceed TOL and need the dense sum [bool B], gradient [B, d] or
        None). Rows go in blocks of at most PAIR_BUDGET pairs (one row at least)."""
        starts, counts = self._segments(y)
        near = counts.sum(1)
        ends = near.cumsum(0).tolist()
        lse_parts, grad_parts = [], []
        i = 0
        while i < y.shape[0]:
            done = ends[i - 1] if i else 0
            j = max(bisect.bisect_right(ends, done + PAIR_BUDGET), i + 1)
            lse_b, g_b = self._block(y[i:j], starts[i:j], counts[i:j], grad)
            lse_parts.append(lse_b)
            grad_parts.append(g_b)
            i = j
        lse = torch.cat(lse_parts) if lse_parts else y.new_zeros(0)
        far = (self.n - near).to(y.dtype)
        dense = ~(torch.log(far) + self.log_far_weight <= lse.detach())
        return lse, dense, (torch.cat(grad_parts) if grad and grad_parts else None)
