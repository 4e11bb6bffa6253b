"""Conditional multi-modal tasks: for one x there are many right answers y (docs/science.md §5).

* `horn`: y | x lies on an ellipse (a continuum of answers), from the NYU
  latent-variable lecture. Ground truth: the noise-free curve of each x
  (`conditional_curve`) and the distance to it (`support_distance`).
* `branches`: y | x lies on one of three curves (three discrete answers, the
  seed's picture of "three possible y for each x"). Ground truth: the three true
  modes of y | x (`conditional_modes`), the distance to the nearest one
  (`support_distance`) and which branch a point belongs to (`assign_branch`).

Both also give a quadrature rule over the domain for each x that resolves the true
y | x (`conditional_quadrature`, ground truth "conditional_quadrature"): the metric
`conditional_nll` normalises exp(-F(x, .)) with it (plugins/metrics/conditional.py).
The true law is what fixes the resolution a rule needs (the noise, 0.05 on horn's
ellipses of radius up to 15, 0.1 on the branches), so the task, which knows it, owns it.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["Horn", "Branches"]

_NYU = "LeCun & Canziani, NYU Deep Learning 2020, latent-variable EBM lecture"


class Horn(ebmbench.Task):
    """x ~ U(0,1), theta ~ U[0, 2pi): y = [rho1(x) cos theta, rho2(x) sin theta] + N(0, 0.05^2).

    rho(x) = [a x + b (1-x), b x + a (1-x)] * exp(2x) with a = 1.5, b = 2: for each x
    the answers form an ellipse that grows and turns with x (the "horn"). Its modes
    are a continuum: the noise-free ellipse, `conditional_curve(x)`.
    """

    name = "horn"
    kind = "conditional"
    dim = 2
    x_dim = 1
    ALPHA, BETA, NOISE = 1.5, 2.0, 0.05
    length_scale = NOISE  # the noise around the ellipse
    R1, R2 = ALPHA * math.e**2, BETA * math.e**2  # largest radii, at x = 1
    domain = ((-(R1 + 0.5), R1 + 0.5), (-(R2 + 0.5), R2 + 0.5))
    # the exact conditional NLL: a model with one answer per x (collapsed onto one point of
    # the ellipse) scores a near-perfect inference_error, but a poor NLL (issue 11)
    main_metric = "conditional_nll"
    # does the model's y | x cover the whole ellipse, how close are its answers, and do its samples cover it?
    headline_metrics = ("arc_coverage", "inference_error", "coverage", "mmd2")
    ground_truth = frozenset({"sampler", "support_distance", "mode_curve", "conditional_quadrature"})
    # conditional_quadrature: band of BAND noise stds around the ellipse, resolved to about
    # one noise std; coarser cells inside and outside it (see conditional_quadrature)
    BAND = 12.0
    QUAD_BAND_RADIAL = 32  # radial nodes of the band (its angular step is QUAD_BAND_STEP noise stds)
    QUAD_BAND_STEP = 1.25
    QUAD_INNER = (32, 256)  # (radial, angular) nodes of the inside of the band
    QUAD_OUTER = (48, 256)  # of the outside, up to the domain's corners
    summary = "y | x on an ellipse whose radii grow with x (NYU latent-variable lecture)"
    reference = _NYU
    tags = frozenset({"2d", "toy", "multimodal"})

    @classmethod
    def radii(cls, x):
        x = x.reshape(-1, 1).double()
        r = torch.cat([cls.ALPHA * x + cls.BETA * (1 - x), cls.BETA * x + cls.ALPHA * (1 - x)], 1)
        return r * torch.exp(2 * x)

    def sample(self, n, generator, x=None):
        kw = {"dtype": torch.float64, "device": generator.device}
        if x is None:
            x = torch.rand(n, 1, generator=generator, **kw)
        theta = torch.rand(n, 1, generator=generator, **kw) * 2 * math.pi
        y = self.radii(x) * torch.cat([torch.cos(theta), torch.sin(theta)], 1)
        y = y + torch.randn(n, 2, generator=generator, **kw) * self.NOISE
        return ebmbench.Split(y.float(), x.float())

    def conditional_curve(self, x, n_points: int = 256):
        """The noise-free ellipse of each x at n evenly spaced angles, float64 [B, n, 2]."""
        theta = torch.linspace(0, 2 * math.pi, n_points + 1, dtype=torch.float64, device=x.device)[:-1]
        ring = torch.stack([torch.cos(theta), torch.sin(theta)], 1)  # [n, 2]
        return self.radii(x)[:, None, :] * ring[None]

    def support_distance(self, y, x=None, n_angles: int = 4096):
        """Distance from y to the noise-free ellipse of its x (dense angular search)."""
        out = []
        for i in range(0, y.shape[0], 256):
            curve = self.conditional_curve(x[i : i + 256].to(y.device), n_angles)  # [b, A, 2]
            out.append((curve - y[i : i + 256, None, :].double()).norm(dim=-1).min(dim=1).values)
        return torch.cat(out).to(y.dtype)

    def conditional_quadrature(self, x):
        """A quadrature rule over the domain for each x: nodes [B, N, 2] and log-weights [B, N], float64.

        In elliptic polar coordinates y = (rho1 u cos phi, rho2 u sin phi) of x's own
        ellipse (area element rho1 rho2 u du dphi), the midpoint rule on three rings:

        * the band |u - 1| <= d, d = BAND * NOISE / min(rho): every point within BAND = 12
          noise stds of the ellipse along the ray, hence 11.5 across the curve (whose
          normal leans at most 16 deg from the ray): the true law puts < exp(-66) outside.
          32 radial nodes step at most one noise std along the ray, and the angles (a
          multiple of 64, for the largest ellipse of the batch: 256 at x = 0, 1536 at
          x = 1) at most 1.25 stds along the curve (speed |dy/dphi| <= max rho). The
          midpoint rule on a Gaussian of std s with step h errs by ~2 exp(-2 pi^2 s^2 / h^2),
          so a bump as narrow as the noise is integrated to ~1e-5, the true law (smooth
          along the curve, periodic in phi) to ~1e-8;
        * inside the band (u < 1 - d) and outside it (u up to the domain's corners, nodes
          outside the domain rectangle weighted 0), 32 and 48 radial by 256 angular nodes:
          cells of ~0.3-0.6, where the true law has no mass and a model's mass is resolved
          only at that scale (the weights of a uniform density sum to the domain's area
          within 0.3 %: the rectangle cuts the outer ring in a staircase).

        The rule follows each x's ellipse (one fixed grid would need ~1e6 nodes for the
        band to be this fine everywhere): 28672 nodes per x at x = 0, 69632 at x = 1.
        """
        x = x.reshape(-1).double()
        rho = self.radii(x)  # [B, 2]
        a, b = rho[:, 0:1], rho[:, 1:2]  # [B, 1]
        (xlo, xhi), (ylo, yhi) = self.domain
        d = self.BAND * self.NOISE / rho.min(1, keepdim=True).values
        corner = torch.stack([torch.hypot(cx / a, cy / b) for cx in (xlo, xhi) for cy in (ylo, yhi)]).amax(0)
        speed = float(rho.max()) if len(x) else 1.0  # |dy/dphi| <= max rho on the band's middle
        n_band = 64 * math.ceil(2 * math.pi * speed / (self.QUAD_BAND_STEP * self.NOISE) / 64)
        rings = (
            (torch.zeros_like(d), 1 - d, self.QUAD_INNER),
            (1 - d, 1 + d, (self.QUAD_BAND_RADIAL, n_band)),
            (1 + d, corner, self.QUAD_OUTER),
        )
        nodes, logw = [], []
        for lo, hi, (n_u, n_phi) in rings:
            du = (hi - lo) / n_u  # [B, 1]
            u = lo + du * (torch.arange(n_u, dtype=torch.float64, device=x.device) + 0.5)  # [B, n_u]
            phi = (torch.arange(n_phi, dtype=torch.float64, device=x.device) + 0.5) * (2 * math.pi / n_phi)
            y1 = (a * u)[:, :, None] * torch.cos(phi)  # [B, n_u, n_phi]
            y2 = (b * u)[:, :, None] * torch.sin(phi)
            w = torch.log(a * b * u * du * (2 * math.pi / n_phi))[:, :, None].expand_as(y1)
            inside = (y1 >= xlo) & (y1 <= xhi) & (y2 >= ylo) & (y2 <= yhi)
            nodes.append(torch.stack([y1, y2], -1).reshape(len(x), -1, 2))
            logw.append(torch.where(inside, w, torch.full_like(w, -math.inf)).reshape(len(x), -1))
        return torch.cat(nodes, 1), torch.cat(logw, 1)


class Branches(ebmbench.Task):
    """x ~ U(0,1), k ~ U{0,1,2}: y = f_k(x) + N(0, 0.1^2), with three smooth curves

        f_0(x) = 2 + 0.5 sin(2 pi x)          in [1.5, 2.5]
        f_1(x) = 1.2 (2x - 1)^2 - 0.6         in [-0.6, 0.6]
        f_2(x) = -1.5 - x                     in [-2.5, -1.5]

    that never cross: the smallest gap between two of them is 1.35 (at x = 0.40,
    between f_1 and f_2), 13.5 noise standard deviations, so each y | x is a mixture of
    three well-separated Gaussians whose modes are the branch values f_k(x) (the
    shift caused by the other components is below exp(-90)).
    """

    name = "branches"
    kind = "conditional"
    dim = 1
    x_dim = 1
    NOISE = 0.1
    length_scale = NOISE  # each branch's noise
    N_BRANCHES = 3
    domain = ((-3.5, 3.5),)  # the branches span [-2.5, 2.5]; 10 noise stds of margin
    # the exact conditional NLL: one right branch per x is not the answer (issue 11)
    main_metric = "conditional_nll"
    # are all three branches found, how close the found answers lie to one, the samples' coverage
    headline_metrics = ("branch_coverage", "inference_error", "coverage", "mmd2")
    ground_truth = frozenset({"sampler", "support_distance", "modes", "conditional_quadrature"})
    QUAD_NODES = 1024  # conditional_quadrature: cells of 7 / 1024 = 0.068 noise stds
    summary = "y | x on one of three non-crossing curves (three answers for each x)"
    reference = "docs/science.md §5 / " + _NYU + " (multi-modal y given x)"
    tags = frozenset({"1d", "toy", "multimodal"})

    @classmethod
    def branch_values(cls, x):
        """f_k(x) for k = 0, 1, 2: float64 [B, 3]."""
        x = x.reshape(-1).double()
        return torch.stack([2 + 0.5 * torch.sin(2 * math.pi * x), 1.2 * (2 * x - 1) ** 2 - 0.6, -1.5 - x], 1)

    def conditional_modes(self, x):
        """The true modes of y | x, one per branch: float64 [B, 3, 1]."""
        return self.branch_values(x)[:, :, None]

    def sample(self, n, generator, x=None):
        kw = {"dtype": torch.float64, "device": generator.device}
        if x is None:
            x = torch.rand(n, 1, generator=generator, **kw)
        k = torch.randint(0, self.N_BRANCHES, (n,), generator=generator, device=generator.device)
        f = self.branch_values(x.to(generator.device))
        y = f[torch.arange(n, device=f.device), k] + torch.randn(n, generator=generator, **kw) * self.NOISE
        return ebmbench.Split(y[:, None].float(), x.reshape(n, 1).float())

    def _gaps(self, y, x):
        return (y.double().reshape(-1, 1) - self.branch_values(x.to(y.device))).abs()  # [B, 3]

    def support_distance(self, y, x=None):
        """|y - f_k(x)| for the nearest branch k."""
        return self._gaps(y, x).min(dim=1).values.to(y.dtype)

    def assign_branch(self, y, x):
        """Index of the nearest branch of each (x, y): LongTensor [B]."""
        return self._gaps(y, x).argmin(dim=1)

    def conditional_quadrature(self, x):
        """The midpoint rule on QUAD_NODES equal cells of the domain, the same for every x:
        nodes [B, N, 1] and log-weights [B, N], float64. A cell is 0.068 noise stds wide;
        the midpoint rule errs on a Gaussian of std s by ~2 exp(-2 pi^2 s^2 / h^2), so the
        true mixture is exact to double precision and a bump one cell wide to ~1e-8."""
        (lo, hi), n = self.domain[0], self.QUAD_NODES
        h = (hi - lo) / n
        grid = lo + h * (torch.arange(n, dtype=torch.float64, device=x.device) + 0.5)
        b = x.reshape(-1).shape[0]
        log_w = torch.full((b, n), math.log(h), dtype=torch.float64, device=x.device)
        return grid[None, :, None].expand(b, n, 1), log_w


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    register(Horn)
    register(Branches)
