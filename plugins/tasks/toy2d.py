"""2-D unconditional tasks from the FFJORD generators (docs/science.md §5), driven by a generator.

The original `toy_data.py` draws from NumPy's global RNG; here every draw takes
the `torch.Generator` it is handed, so a seed fixes the data exactly. Swissroll's
scikit-learn generator takes an integer `random_state`, itself drawn from that
generator. Deviations from FFJORD, each so that a split is n i.i.d. draws of the
law whose density the task states (docs/science.md §5, "i.i.d. draws"):

* every generator returns exactly n points (FFJORD's pinwheel/2spirals return a
  multiple of 5 / 2);
* rings, moons, pinwheel, 2spirals: the component of each point (ring, moon, arm,
  spiral) is its own categorical draw and its position along the component is
  uniform (rings: angle ~ U[0, 2pi); moons: t ~ U[0, pi]), where FFJORD / scikit-learn
  use exact per-component counts and evenly spaced angles (`linspace`), and
  2spirals' second arm mirrors the first point for point. Those deterministic
  layouts make two independent splits closer than i.i.d. draws (rings: MMD² of two
  2 000-point draws -0.0034 in 5 of 5 repeats, issue 11) and void the ± standard
  errors, which assume independence. The laws are the same (the many-points limit of
  FFJORD's), so the exact and reference densities are unchanged in form.

This file's source hash is the tasks' identity in every cell key and run provenance
(and keys the cached reference densities, toy2d_density.py): the i.i.d. generators
therefore neither reuse old cells nor old reference grids.

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
    length_scale = STD / DIV  # each component's std
    ground_truth = ExactToy2D.ground_truth | {"mixture"}

    @classmethod
    def centers(cls):
        s = 1 / math.sqrt(2)
        c = torch.tensor([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)], dtype=torch.float64)
        return c * cls.SCALE / cls.DIV

    def draw(self, n, generator):
        idx = torch.randint(0, 8, (n,), generator=generator, device=generator.device)
        noise = torch.randn(n, 2, generator=generator, **_f64(generator)) * self.STD
        return (self.centers().to(generator.device)[idx] * self.DIV + noise) / self.DIV

    def mixture_components(self):
        """(centres [8, 2], weights [8]) float64: the equal mixture (ground truth "mixture")."""
        return self.centers(), torch.full((8,), 1 / 8, dtype=torch.float64)

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
    length_scale = NOISE

    def draw(self, n, generator):
        kw = _f64(generator)
        # each point independently: ring k ~ U{0..3} (the equal weights of FFJORD's n/4 per
        # ring and of the exact mixture below), angle ~ U[0, 2pi), isotropic N(0, 0.08^2) noise
        k = torch.randint(0, len(self.RADII), (n,), generator=generator, device=generator.device)
        theta = torch.rand(n, generator=generator, **kw) * (2 * math.pi)
        radius = torch.tensor(self.RADII, **kw)[k]
        pts = radius[:, None] * torch.stack([torch.cos(theta), torch.sin(theta)], 1)
        return pts + torch.randn(n, 2, generator=generator, **kw) * self.NOISE

    def log_density(self, y, x=None):
        """Equal mixture of uniform rings convolved with N(0, 0.08^2 I) (Bessel form)."""
        return dens.rings_log_density(y, self.RADII, self.NOISE)


class TwoSpirals(Toy2D):
    name = "2spirals"
    summary = "two interleaved spirals with uniform jitter and Gaussian noise (FFJORD)"
    length_scale = 0.1  # the Gaussian noise (the jitter, 0.5 / 3 wide, is uniform)

    def draw(self, n, generator):
        kw = _f64(generator)
        # FFJORD draws n/2 points on one arm and mirrors them point for point; here each
        # point picks its arm (sign +-1) independently, with probability 1/2 each
        t = torch.sqrt(torch.rand(n, 1, generator=generator, **kw)) * 540 * (2 * math.pi) / 360
        d1x = -torch.cos(t) * t + torch.rand(n, 1, generator=generator, **kw) * 0.5
        d1y = torch.sin(t) * t + torch.rand(n, 1, generator=generator, **kw) * 0.5
        sign = torch.randint(0, 2, (n, 1), generator=generator, device=generator.device).to(torch.float64) * 2 - 1
        pts = sign * torch.cat([d1x, d1y], 1) / 3
        return pts + torch.randn(n, 2, generator=generator, **kw) * 0.1


class Pinwheel(Toy2D):
    name = "pinwheel"
    summary = "5 curved arms: radial N(1, 0.3^2), tangential N(0, 0.1^2), twist 0.25 e^r (FFJORD)"
    ARMS, RADIAL_STD, TANGENTIAL_STD, RATE = 5, 0.3, 0.1, 0.25
    length_scale = 2 * TANGENTIAL_STD  # an arm's width, after the final x2

    def draw(self, n, generator):
        kw = _f64(generator)
        # the arm of each point is its own draw, k ~ U{0..4} (FFJORD: exactly n/5 per arm)
        labels = torch.randint(0, self.ARMS, (n,), generator=generator, device=generator.device)
        f = torch.randn(n, 2, generator=generator, **kw) * torch.tensor([self.RADIAL_STD, self.TANGENTIAL_STD], **kw)
        f[:, 0] += 1.0
        angles = labels.to(torch.float64) * (2 * math.pi / self.ARMS) + self.RATE * torch.exp(f[:, 0])
        c, s = torch.cos(angles), torch.sin(angles)
        # FFJORD's einsum("ti,tij->tj", f, [[c, -s], [s, c]]): the row vector f times R
        pts = torch.stack([f[:, 0] * c + f[:, 1] * s, -f[:, 0] * s + f[:, 1] * c], 1)
        return 2 * pts


class Moons(Toy2D):
    name = "moons"
    summary = "two interleaved half circles, noise 0.1, scaled by 2, shifted by (-1, -0.2) (FFJORD, make_moons law)"
    reference = _REF + "; scikit-learn make_moons"
    NOISE = 0.1
    length_scale = 2 * NOISE  # the noise, after the final x2

    def draw(self, n, generator):
        kw = _f64(generator)
        # scikit-learn's make_moons: n//2 points at linspace(0, pi) angles on each moon; here
        # the moon (upper/lower, probability 1/2) and the angle t ~ U[0, pi] of each point are
        # independent draws, then the same noise, scale and shift
        upper = torch.randint(0, 2, (n, 1), generator=generator, device=generator.device).bool()
        t = torch.rand(n, generator=generator, **kw) * math.pi
        outer = torch.stack([torch.cos(t), torch.sin(t)], 1)
        inner = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1)  # make_moons' (1 - cos, 1 - sin - .5)
        y = torch.where(upper, outer, inner) + torch.randn(n, 2, generator=generator, **kw) * self.NOISE
        return y * 2 + torch.tensor([-1.0, -0.2], **kw)


class Swissroll(Toy2D):
    name = "swissroll"
    summary = "scikit-learn make_swiss_roll(noise=1), coordinates 0 and 2, divided by 5 (FFJORD)"
    reference = _REF + "; scikit-learn make_swiss_roll"
    length_scale = 0.2  # make_swiss_roll's noise 1, / 5

    def draw(self, n, generator):
        from sklearn.datasets import make_swiss_roll

        y = make_swiss_roll(n_samples=n, noise=1.0, random_state=_sklearn_seed(generator))[0]
        return (torch.from_numpy(y[:, [0, 2]]).to(torch.float64) / 5).to(generator.device)


TOY_TASKS = (EightGaussians, Checkerboard, Rings, TwoSpirals, Pinwheel, Moons, Swissroll)


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    for cls in TOY_TASKS:
        register(cls)
