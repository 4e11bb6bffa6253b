"""2-D unconditional tasks from the FFJORD generators (docs/science.md §5), driven by a generator.

The original `toy_data.py` draws from NumPy's global RNG; here every draw takes
the `torch.Generator` it is handed, so a seed fixes the data exactly. The two
scikit-learn generators (moons, swissroll) take an integer `random_state`, which is
itself drawn from that generator. Deviations from FFJORD, each for exactness:

* every generator returns exactly n points (FFJORD's pinwheel/2spirals return a
  multiple of 5 / 2);
* rings: FFJORD puts the evenly spaced angles of every ring at 0, 2pi/m, ...; here
  each ring is rotated by a uniform random phase. The spacing is unchanged, but
  every point's angle is then marginally uniform, so the exact density below (the
  noise-convolved uniform ring, the many-points limit of FFJORD's law) is exact for
  each point, and test angles are no longer a subset of the training angles.

Ground truth: the exact log-density of `8gaussians`, `checkerboard` and `rings`;
for every task a reference density on the evaluation grid (toy2d_density.py),
`reference_log_density(y)`, equal to the exact one where that exists.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import
from ebmbench_plugins.tasks import toy2d_density as dens

torch = lazy_import("torch")

__all__ = [
    "TOY_DOMAIN",
    "Toy2D",
    "EightGaussians",
    "Checkerboard",
    "Rings",
    "TwoSpirals",
    "Pinwheel",
    "Moons",
    "Swissroll",
    "TOY_TASKS",
]

# The evaluation grid of docs/science.md §4 (see grid.py); every FFJORD sample lies inside [-4.2, 4.2]^2.
TOY_DOMAIN = ((-4.5, 4.5), (-4.5, 4.5))

_REF = "Grathwohl et al. 2019, FFJORD lib/toy_data.py"


def _f64(generator):
    return {"dtype": torch.float64, "device": generator.device}


def _sklearn_seed(generator) -> int:
    # scikit-learn wants an int: take it from the torch generator, which then still fixes the data
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))


class Toy2D(ebmbench.Task):
    kind = "unconditional"
    dim = 2
    domain = TOY_DOMAIN
    main_metric = "nll_grid"
    # sample quality (mmd2, coverage: are all modes visited?) and the scale-free energy
    # gap (does the energy separate data from noise?) beside the grid NLL
    headline_metrics = ("mmd2", "coverage", "energy_gap_std")
    ground_truth = frozenset({"sampler", "reference_density"})
    tags = frozenset({"2d", "toy"})
    reference = _REF

    def sample(self, n, generator, x=None):
        return ebmbench.Split(self.draw(n, generator).float())

    def draw(self, n, generator):
        """n points as float64 on the generator's device."""
        raise NotImplementedError

    def reference_log_density(self, y, x=None):
        """log of the reference density (exact where known, else the grid estimate)."""
        return dens.reference_log_density(self, y)

    def reference_grid(self):
        """Reference log-density at the evaluation grid's centres, float64 [GRID_RES, GRID_RES]."""
        return dens.reference_log_grid(self)


class ExactToy2D(Toy2D):
    ground_truth = frozenset({"sampler", "log_density", "reference_density"})

    def reference_log_density(self, y, x=None):
        return self.log_density(y)


class EightGaussians(ExactToy2D):
    name = "8gaussians"
    summary = "8 isotropic Gaussians on a circle (FFJORD); exact log-density known"
    SCALE, STD, DIV = 4.0, 0.5, 1.414

    @classmethod
    def centers(cls):
        s = 1 / math.sqrt(2)
        c = torch.tensor([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)], dtype=torch.float64)
        return c * cls.SCALE / cls.DIV

    def draw(self, n, generator):
        idx = torch.randint(0, 8, (n,), generator=generator, device=generator.device)
        noise = torch.randn(n, 2, generator=generator, **_f64(generator)) * self.STD
        return (self.centers().to(generator.device)[idx] * self.DIV + noise) / self.DIV

    def log_density(self, y, x=None):
        """Equal-weight mixture of N(c_k/1.414, (0.5/1.414)^2 I), exactly."""
        return dens.gaussian_mixture_log_density(y, self.centers(), self.STD / self.DIV)


class Checkerboard(ExactToy2D):
    name = "checkerboard"
    summary = "uniform on 8 of the 16 2x2 cells of [-4,4]^2 (FFJORD); exact log-density log(1/32)"

    def draw(self, n, generator):
        x1 = torch.rand(n, generator=generator, **_f64(generator)) * 4 - 2
        b = torch.randint(0, 2, (n,), generator=generator, device=generator.device)
        x2 = torch.rand(n, generator=generator, **_f64(generator)) - 2 * b
        x2 = x2 + torch.remainder(torch.floor(x1), 2)
        return torch.stack([x1, x2], 1) * 2

    def log_density(self, y, x=None):
        """-log 32 on the 8 black cells, -inf elsewhere (exact; see toy2d_density)."""
        return dens.checkerboard_log_density(y)


class Rings(ExactToy2D):
    name = "rings"
    summary = "4 concentric rings, radii 3, 2.25, 1.5, 0.75, radial noise 0.08 (FFJORD); exact log-density"
    RADII = (3.0, 2.25, 1.5, 0.75)
    NOISE = 0.08

    def draw(self, n, generator):
        # FFJORD: n//4 points on each of the three outer rings, the rest on the inner one
        counts = [n // 4] * 3 + [n - 3 * (n // 4)]
        parts = []
        for radius, m in zip(self.RADII, counts):
            if m == 0:
                continue
            phase = torch.rand(1, generator=generator, **_f64(generator)) * (2 * math.pi / m)
            theta = phase + torch.arange(m, **_f64(generator)) * (2 * math.pi / m)
            parts.append(radius * torch.stack([torch.cos(theta), torch.sin(theta)], 1))
        pts = torch.cat(parts, 0)[torch.randperm(n, generator=generator, device=generator.device)]
        return pts + torch.randn(n, 2, generator=generator, **_f64(generator)) * self.NOISE

    def log_density(self, y, x=None):
        """Equal mixture of uniform rings convolved with N(0, 0.08^2 I) (Bessel form)."""
        return dens.rings_log_density(y, self.RADII, self.NOISE)


class TwoSpirals(Toy2D):
    name = "2spirals"
    summary = "two interleaved spirals with uniform jitter and Gaussian noise (FFJORD)"

    def draw(self, n, generator):
        h = (n + 1) // 2  # one spare point when n is odd, dropped below
        kw = _f64(generator)
        t = torch.sqrt(torch.rand(h, 1, generator=generator, **kw)) * 540 * (2 * math.pi) / 360
        d1x = -torch.cos(t) * t + torch.rand(h, 1, generator=generator, **kw) * 0.5
        d1y = torch.sin(t) * t + torch.rand(h, 1, generator=generator, **kw) * 0.5
        arm = torch.cat([d1x, d1y], 1)
        pts = torch.cat([arm, -arm], 0) / 3
        pts = pts + torch.randn(pts.shape, generator=generator, **kw) * 0.1
        return pts[torch.randperm(2 * h, generator=generator, device=generator.device)[:n]]


class Pinwheel(Toy2D):
    name = "pinwheel"
    summary = "5 curved arms: radial N(1, 0.3^2), tangential N(0, 0.1^2), twist 0.25 e^r (FFJORD)"
    ARMS, RADIAL_STD, TANGENTIAL_STD, RATE = 5, 0.3, 0.1, 0.25

    def draw(self, n, generator):
        kw = _f64(generator)
        labels = torch.arange(n, device=generator.device) % self.ARMS  # balanced arms, exactly n points
        f = torch.randn(n, 2, generator=generator, **kw) * torch.tensor([self.RADIAL_STD, self.TANGENTIAL_STD], **kw)
        f[:, 0] += 1.0
        angles = labels.to(torch.float64) * (2 * math.pi / self.ARMS) + self.RATE * torch.exp(f[:, 0])
        c, s = torch.cos(angles), torch.sin(angles)
        # FFJORD's einsum("ti,tij->tj", f, [[c, -s], [s, c]]): the row vector f times R
        pts = torch.stack([f[:, 0] * c + f[:, 1] * s, -f[:, 0] * s + f[:, 1] * c], 1)
        return 2 * pts[torch.randperm(n, generator=generator, device=generator.device)]


class Moons(Toy2D):
    name = "moons"
    summary = "scikit-learn make_moons(noise=0.1), scaled by 2 and shifted by (-1, -0.2) (FFJORD)"
    reference = _REF + "; scikit-learn make_moons"

    def draw(self, n, generator):
        from sklearn.datasets import make_moons

        y = make_moons(n_samples=n, noise=0.1, random_state=_sklearn_seed(generator))[0]
        y = torch.from_numpy(y).to(torch.float64) * 2 + torch.tensor([-1.0, -0.2], dtype=torch.float64)
        return y.to(generator.device)


class Swissroll(Toy2D):
    name = "swissroll"
    summary = "scikit-learn make_swiss_roll(noise=1), coordinates 0 and 2, divided by 5 (FFJORD)"
    reference = _REF + "; scikit-learn make_swiss_roll"

    def draw(self, n, generator):
        from sklearn.datasets import make_swiss_roll

        y = make_swiss_roll(n_samples=n, noise=1.0, random_state=_sklearn_seed(generator))[0]
        return (torch.from_numpy(y[:, [0, 2]]).to(torch.float64) / 5).to(generator.device)


TOY_TASKS = (EightGaussians, Checkerboard, Rings, TwoSpirals, Pinwheel, Moons, Swissroll)


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    for cls in TOY_TASKS:
        register(cls)
