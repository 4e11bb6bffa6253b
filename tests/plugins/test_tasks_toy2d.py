"""The seven 2-D tasks: each generator against its FFJORD formula, the exact
log-densities against quadrature and the figures of docs/science.md §5, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ebmbench.profiles import get_profile
from ebmbench_plugins.tasks import grid, toy2d

ALL = {cls.name: cls for cls in toy2d.TOY_TASKS}
EXACT = ("8gaussians", "checkerboard", "rings")


def gen(seed):
    return torch.Generator().manual_seed(seed)


def draw(name, n, seed=0):
    return ALL[name]().draw(n, gen(seed))


# ------------------------------------------------- independent NumPy transcriptions
def ffjord(name, n, rng):
    """FFJORD lib/toy_data.py, transcribed with a NumPy Generator for the global RNG."""
    if name == "2spirals":
        t = np.sqrt(rng.random((n // 2, 1))) * 540 * (2 * np.pi) / 360
        d1x = -np.cos(t) * t + rng.random((n // 2, 1)) * 0.5
        d1y = np.sin(t) * t + rng.random((n // 2, 1)) * 0.5
        x = np.vstack((np.hstack((d1x, d1y)), np.hstack((-d1x, -d1y)))) / 3
        return x + rng.standard_normal(x.shape) * 0.1
    if name == "pinwheel":
        rads = np.linspace(0, 2 * np.pi, 5, endpoint=False)
        f = rng.standard_normal((n // 5 * 5, 2)) * np.array([0.3, 0.1])
        f[:, 0] += 1.0
        a = rads[np.repeat(np.arange(5), n // 5)] + 0.25 * np.exp(f[:, 0])
        rot = np.reshape(np.stack([np.cos(a), -np.sin(a), np.sin(a), np.cos(a)]).T, (-1, 2, 2))
        return 2 * np.einsum("ti,tij->tj", f, rot)
    if name == "checkerboard":
        x1 = rng.random(n) * 4 - 2
        x2 = rng.random(n) - rng.integers(0, 2, n) * 2 + (np.floor(x1) % 2)
        return np.stack([x1, x2], 1) * 2
    raise KeyError(name)


def total_variation(a, b, bins=18):
    """Half the L1 distance between the two samples' histograms on [-4.5, 4.5]^2."""
    r = [list(grid.GRID_DOMAIN)] * 2
    pa = np.histogram2d(a[:, 0], a[:, 1], bins=bins, range=r)[0]
    pb = np.histogram2d(b[:, 0], b[:, 1], bins=bins, range=r)[0]
    return 0.5 * np.abs(pa / pa.sum() - pb / pb.sum()).sum()


@pytest.mark.parametrize("name", ["2spirals", "pinwheel", "checkerboard"])
def test_generator_matches_ffjord_transcription(name):
    n = 200_000
    ours = draw(name, n, seed=1).numpy()
    assert ours.shape == (n, 2) and ours.dtype == np.float64
    # two independent samples of 200k differ by TV ~0.012 on 18x18 bins; a 50% change
    # of the spirals' noise gives 0.07, a twist rate of 0.3 instead of 0.25 gives 0.4
    assert total_variation(ours, ffjord(name, n, np.random.default_rng(5))) < 0.03


# ------------------------------------------------------------- formula statistics
def test_8gaussians_centres_weights_and_spread():
    y = draw("8gaussians", 80_000)
    c = toy2d.EightGaussians.centers()
    assert torch.allclose(c.norm(dim=1), torch.full((8,), 4 / 1.414, dtype=torch.float64))
    k = torch.cdist(y, c).argmin(1)
    frac = torch.bincount(k, minlength=8) / len(y)
    assert torch.allclose(frac, torch.full((8,), 1 / 8, dtype=frac.dtype), atol=0.01)
    for j in range(8):
        pts = y[k == j]
        assert torch.allclose(pts.mean(0), c[j], atol=0.02)
        assert torch.allclose(pts.std(0), torch.full((2,), 0.5 / 1.414, dtype=pts.dtype), rtol=0.03)


def test_checkerboard_cells_are_uniform_and_occupied_by_parity():
    y = draw("checkerboard", 80_000)
    assert (y >= -4).all() and (y < 4).all()
    cell = torch.floor(y / 2).long()  # in {-2, ..., 1}^2
    assert (torch.remainder(cell.sum(1), 2) == 0).all()  # only the 8 "black" cells
    counts = torch.bincount((cell[:, 0] + 2) * 4 + (cell[:, 1] + 2), minlength=16)
    occupied = counts[counts > 0]
    assert len(occupied) == 8
    assert torch.allclose(occupied / len(y), torch.full((8,), 1 / 8), atol=0.01)
    within = y - (2 * cell + 1)  # offset from the cell centre: U(-1, 1)^2
    assert torch.allclose(within.mean(0), torch.zeros(2, dtype=torch.float64), atol=0.01)
    assert torch.allclose(within.var(0), torch.full((2,), 1 / 3, dtype=torch.float64), atol=0.01)


def test_rings_counts_radii_noise_and_random_phase():
    n = 40_001  # not a multiple of 4: FFJORD puts the remainder on the inner ring
    y = draw("rings", n)
    r = y.norm(dim=1)
    radii = torch.tensor(toy2d.Rings.RADII, dtype=torch.float64)
    k = (r[:, None] - radii[None]).abs().argmin(1)
    assert torch.bincount(k, minlength=4).tolist() == [n // 4] * 3 + [n - 3 * (n // 4)]
    for j in range(4):
        resid = r[k == j] - radii[j]
        assert abs(float(resid.mean())) < 0.01 + 0.08**2 / radii[j]  # E r - R ~ s^2 / (2R)
        assert float(resid.std()) == pytest.approx(0.08, rel=0.05)
    # each ring's m angles are evenly spaced, phase + 2 pi j / m, with a uniform random
    # phase per draw (FFJORD's is always 0): exp(i m angle) averages to exp(i m phase)
    m, phases = 10, []
    for seed in range(8):
        y = draw("rings", 4 * m, seed=seed)
        outer = y[y.norm(dim=1) > 2.6]
        assert len(outer) == m
        z = torch.exp(1j * m * torch.atan2(outer[:, 1], outer[:, 0])).mean()
        assert float(z.abs()) > 0.9  # evenly spaced up to the 0.08 / 3 rad angular noise
        phases.append(float(torch.angle(z)))
    assert np.ptp(phases) > 1.0  # spread over (-pi, pi], not all near 0


def test_pinwheel_has_five_arms_at_ffjord_angles():
    y = draw("pinwheel", 50_000)
    r = y.norm(dim=1)
    phi = torch.atan2(y[:, 1], y[:, 0])
    # arm k, radial coordinate f0 ~ r / 2, sits at polar angle -(2 pi k / 5 + 0.25 e^{f0})
    arms = -(torch.arange(5, dtype=torch.float64)[None] * 2 * math.pi / 5 + 0.25 * torch.exp(r[:, None] / 2))
    gap = torch.remainder(phi[:, None] - arms + math.pi, 2 * math.pi) - math.pi  # wrapped difference
    k = gap.abs().argmin(1)
    best = gap.abs().min(1).values
    # the angular spread is ~ f1 / f0, f1 ~ N(0, 0.1^2), f0 ~ N(1, 0.3^2): median 0.07, q90 0.19
    # (arms turning the other way, +0.25 e^f0, would put most points > 0.5 rad away)
    assert float(best.median()) < 0.1 and float(torch.quantile(best, 0.9)) < 0.25
    assert torch.allclose(torch.bincount(k, minlength=5) / len(y), torch.full((5,), 0.2), atol=0.01)


def test_2spirals_is_point_symmetric_with_radius_up_to_3pi_over_3():
    y = draw("2spirals", 40_001)
    assert y.shape == (40_001, 2)
    assert torch.allclose(y.mean(0), torch.zeros(2, dtype=torch.float64), atol=0.03)
    assert float(y.norm(dim=1).max()) < (3 * math.pi + 0.5 * math.sqrt(2)) / 3 + 0.6


@pytest.mark.parametrize("name", ["moons", "swissroll"])
def test_sklearn_tasks_equal_direct_sklearn_call(name):
    from sklearn.datasets import make_moons, make_swiss_roll

    n = 1001
    ours = draw(name, n, seed=7).numpy()
    rs = int(torch.randint(0, 2**31 - 1, (1,), generator=gen(7)))
    if name == "moons":
        want = make_moons(n_samples=n, noise=0.1, random_state=rs)[0] * 2 + np.array([-1, -0.2])
    else:
        want = make_swiss_roll(n_samples=n, noise=1.0, random_state=rs)[0][:, [0, 2]] / 5
    np.testing.assert_allclose(ours, want, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ exact densities
@pytest.mark.parametrize("name", EXACT)
def test_exact_log_density_integrates_to_one_on_the_grid(name):
    pts = grid.grid_points(dtype=torch.float64)
    mass = float(torch.exp(ALL[name]().log_density(pts)).sum()) * grid.cell_area()
    assert mass == pytest.approx(1.0, abs=0.01)


def test_rings_bessel_form_equals_angular_quadrature():
    s, radii = toy2d.Rings.NOISE, toy2d.Rings.RADII
    y = torch.tensor([[0.0, 0.0], [3.05, 0.0], [1.0, 1.0], [-0.5, 0.56], [0.0, -2.2], [4.0, 3.0]], dtype=torch.float64)
    theta = np.linspace(0, 2 * np.pi, 20_000, endpoint=False)
    direct = np.zeros(len(y))
    for R in radii:  # p_R(y) = mean over the angle of the 2-D normal density at y - R u(theta)
        d2 = ((y.numpy()[:, None, :] - R * np.stack([np.cos(theta), np.sin(theta)], 1)[None]) ** 2).sum(-1)
        direct += np.exp(-d2 / (2 * s * s)).mean(1) / (2 * np.pi * s * s) / len(radii)
    ours = torch.exp(toy2d.Rings().log_density(y)).numpy()
    np.testing.assert_allclose(ours, direct, rtol=1e-6, atol=1e-300)


def test_checkerboard_log_density_is_log32_on_black_cells_minus_inf_elsewhere():
    y = torch.tensor([[-3.0, -3.0], [-1.0, -3.0], [0.5, 0.5], [0.5, -0.5], [4.2, 0.0]], dtype=torch.float64)
    lp = toy2d.Checkerboard().log_density(y)
    assert lp[0] == lp[2] == -math.log(32)
    assert torch.isneginf(lp[[1, 3, 4]]).all()
    # differentiable, with the exact score inside the cells: zero
    yg = y[[0, 2]].clone().requires_grad_(True)
    (score,) = torch.autograd.grad(toy2d.Checkerboard().log_density(yg).sum(), yg)
    assert torch.equal(score, torch.zeros_like(score))


@pytest.mark.parametrize("name", ["8gaussians", "rings"])
def test_exact_score_matches_finite_differences(name):
    y = torch.tensor([[0.3, -1.2], [2.1, 0.4], [-0.7, 2.9]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ALL[name]().log_density, (y,))


@pytest.mark.parametrize("name, figure", [("8gaussians", 2.831), ("checkerboard", math.log(32)), ("rings", 2.617)])
def test_mean_exact_nll_matches_the_primer(name, figure):
    task = ALL[name]()
    y = task.sample(100_000, gen(11)).y
    nll = float(-task.log_density(y.double()).mean())
    # 100k points: standard error ~0.003; these older figures (docs/science.md §5) come from a finite sample
    # (the exact entropies are 2.838 and 2.623), hence 0.02
    assert nll == pytest.approx(figure, abs=0.02 if name != "checkerboard" else 1e-9)


@pytest.mark.parametrize("name", EXACT)
def test_reference_of_exact_tasks_is_the_exact_density(name):
    task = ALL[name]()
    y = draw(name, 500, seed=3)
    assert torch.equal(task.reference_log_density(y), task.log_density(y))


# ------------------------------------------------------------------------- seeds
@pytest.mark.parametrize("name", sorted(ALL))
def test_same_seed_same_data_different_seed_different_data(name):
    task = ALL[name]()
    profile = get_profile("smoke")
    a, b, c = (task.make(profile, gen(s)) for s in (4, 4, 5))
    assert a.train.y.dtype == torch.float32 and a.train.x is None
    assert [len(a.train), len(a.val), len(a.test)] == [profile.n_train, profile.n_val, profile.n_test]
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split).y, getattr(b, split).y)
        assert not torch.equal(getattr(a, split).y, getattr(c, split).y)
    assert not torch.equal(a.train.y[: len(a.test)], a.test.y)  # the splits are distinct draws
