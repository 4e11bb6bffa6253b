"""2-D unconditional tasks from the FFJORD generators (primer §5), driven by a generator.

The original code draws from NumPy's global RNG; here every draw takes the
`torch.Generator` it is handed, so a seed fixes the data exactly.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["EightGaussians", "TwoSpirals", "TOY_DOMAIN"]

# The primer's evaluation grid; every FFJORD sample lies inside [-4.2, 4.2]^2.
TOY_DOMAIN = ((-4.5, 4.5), (-4.5, 4.5))


class Toy2D(ebmbench.Task):
    kind = "unconditional"
    dim = 2
    domain = TOY_DOMAIN
    main_metric = "mmd2"
    tags = frozenset({"2d", "toy"})

    def sample(self, n, generator, x=None):
        return ebmbench.Split(self.draw(n, generator).float())

    def draw(self, n, generator):
        raise NotImplementedError


class EightGaussians(Toy2D):
    name = "8gaussians"
    summary = "8 isotropic Gaussians on a circle (FFJORD); exact log-density known"
    reference = "Grathwohl et al. 2019, FFJORD toy_data.py"
    ground_truth = frozenset({"log_density", "sampler"})
    SCALE, STD, DIV = 4.0, 0.5, 1.414

    @classmethod
    def centers(cls):
        s = 1 / math.sqrt(2)
        c = torch.tensor([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)],
                         dtype=torch.float64)
        return c * cls.SCALE / cls.DIV

    def draw(self, n, generator):
        idx = torch.randint(0, 8, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64) * self.STD
        return (self.centers()[idx] * self.DIV + noise) / self.DIV

    def log_density(self, y, x=None):
        """Equal-weight mixture of N(c_k/1.414, (0.5/1.414)^2 I), exactly."""
        s2 = (self.STD / self.DIV) ** 2
        c = self.centers().to(y.device, torch.float64)
        d2 = ((y.double()[:, None, :] - c[None]) ** 2).sum(-1)
        return (torch.logsumexp(-d2 / (2 * s2), dim=1) - math.log(8) - math.log(2 * math.pi * s2)).to(y.dtype)


class TwoSpirals(Toy2D):
    name = "2spirals"
    summary = "two interleaved spirals with uniform jitter and Gaussian noise (FFJORD)"
    reference = "Grathwohl et al. 2019, FFJORD toy_data.py"
    ground_truth = frozenset({"sampler"})

    def draw(self, n, generator):
        h = n // 2
        t = torch.sqrt(torch.rand(h, 1, generator=generator, dtype=torch.float64)) * 540 * (2 * math.pi) / 360
        d1x = -torch.cos(t) * t + torch.rand(h, 1, generator=generator, dtype=torch.float64) * 0.5
        d1y = torch.sin(t) * t + torch.rand(h, 1, generator=generator, dtype=torch.float64) * 0.5
        arm = torch.cat([d1x, d1y], 1)
        pts = torch.cat([arm, -arm], 0) / 3
        pts = pts + torch.randn(pts.shape, generator=generator, dtype=torch.float64) * 0.1
        if n % 2:  # FFJORD returns 2*(n//2) points; keep exactly n
            pts = torch.cat([pts, pts[:1]], 0)
        perm = torch.randperm(n, generator=generator)
        return pts[perm]


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    register(EightGaussians)
    register(TwoSpirals)
