"""Conditional multi-modal tasks: for one x there are many right answers y (docs/science.md §5).

* `horn`: y | x lies on an ellipse (a continuum of answers), from the NYU
  latent-variable lecture. Ground truth: the noise-free curve of each x
  (`conditional_curve`) and the distance to it (`support_distance`).
* `branches`: y | x lies on one of three curves (three discrete answers, the
  seed's picture of "three possible y for each x"). Ground truth: the three true
  modes of y | x (`conditional_modes`), the distance to the nearest one
  (`support_distance`) and which branch a point belongs to (`assign_branch`).
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
    R1, R2 = ALPHA * math.e**2, BETA * math.e**2  # largest radii, at x = 1
    domain = ((-(R1 + 0.5), R1 + 0.5), (-(R2 + 0.5), R2 + 0.5))
    main_metric = "inference_error"
    # does sampling y | x cover the whole ellipse, and does the energy separate data from noise?
    headline_metrics = ("coverage", "mmd2", "energy_gap_std")
    ground_truth = frozenset({"sampler", "support_distance", "mode_curve"})
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
    N_BRANCHES = 3
    domain = ((-3.5, 3.5),)  # the branches span [-2.5, 2.5]; 10 noise stds of margin
    main_metric = "branch_coverage"
    # how close the found answers lie to a branch, then the samples' coverage and MMD²
    headline_metrics = ("inference_error", "coverage", "mmd2")
    ground_truth = frozenset({"sampler", "support_distance", "modes"})
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


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    register(Horn)
    register(Branches)
