"""The `oracle` model (issue 11): E = -log p of the task's own law, checked against
independent references (SciPy quadrature and normal densities), and run end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ebmbench
from ebmbench_plugins.methods.baselines import NoTraining
from ebmbench_plugins.metrics.density import grid_nll
from ebmbench_plugins.models.mlp import MLP
from ebmbench_plugins.models.oracle import Oracle, oracle_law
from ebmbench_plugins.tasks import grid, toy2d
from ebmbench_plugins.tasks.conditional import Branches, Horn
from ebmbench_plugins.tasks.digits import Digits

TOY = {cls.name: cls for cls in toy2d.TOY_TASKS}


def gen(seed):
    return torch.Generator().manual_seed(seed)


def build(task, n=200, seed=0):
    data = task.make(ebmbench.Profile("t", n, n, n, 1, 1, 1, 1, 1, 1, 1, 1), gen(seed))
    return Oracle().build(task, data, gen(1)), data


# ---------------------------------------------------------------- compatibility
def test_law_per_task_and_reasons():
    laws = {name: oracle_law(cls()) for name, cls in TOY.items()}
    assert laws == {n: "exact" if n in ("8gaussians", "checkerboard", "rings") else "grid" for n in TOY}
    assert oracle_law(Horn()) == "horn" and oracle_law(Branches()) == "branches"
    assert Oracle().compatible(Horn()) is None
    reason = Oracle().compatible(Digits())
    assert "digits has no exact log_density, no reference density and no known conditional law" in reason
    # `given` trains only the oracle; the oracle is trained by nothing else
    assert NoTraining().compatible(Oracle(), toy2d.Rings()) is None
    assert "given trains oracle models, mlp is neural" in NoTraining().compatible(MLP(), toy2d.Rings())


# ---------------------------------------------------------------- unconditional laws
@pytest.mark.parametrize("name", ["8gaussians", "rings"])
def test_exact_oracle_is_minus_log_density_with_its_score(name):
    task = TOY[name]()
    module, _ = build(task)
    y = task.sample(500, gen(3)).y
    assert module(y).dtype == torch.float32
    assert torch.allclose(module(y).double(), -task.log_density(y.double()), atol=1e-5)
    # far from the data the energy is large but finite, with a gradient pointing back
    far = torch.tensor([[4.4, -4.4]], requires_grad=True)
    (g,) = torch.autograd.grad(module(far).sum(), far)
    assert torch.isfinite(g).all() and float((g * far.detach()).sum()) > 0


def test_checkerboard_oracle_is_finite_on_empty_cells():
    module, _ = build(toy2d.Checkerboard())
    e = module(torch.tensor([[-3.0, -3.0], [-1.0, -3.0], [4.4, 0.0]]))
    floor = -math.log(1e-10 / 81)  # FLOOR spread over the 9 x 9 domain
    assert e[0] == pytest.approx(math.log(32)) and e[1:].tolist() == pytest.approx([floor, floor])


def test_the_grid_interpolation_the_oracle_uses_is_differentiable():
    values = torch.rand(40, 40, generator=gen(0), dtype=torch.float64) + 0.1
    y = torch.rand(20, 2, generator=gen(1), dtype=torch.float64) * 10 - 5
    assert torch.autograd.gradcheck(lambda t: grid.grid_interpolate(values, t, outside=0.5), (y.requires_grad_(),))


@pytest.mark.parametrize("name", ["moons", "pinwheel"])
def test_grid_oracle_is_the_reference_density(name):
    task = TOY[name]()
    module, _ = build(task)
    y = torch.cat([task.sample(300, gen(4)).y, torch.tensor([[6.0, 0.0]])])  # one point outside the domain
    assert torch.allclose(module(y).double(), -task.reference_log_density(y.double()), atol=1e-6)
    yg = task.sample(50, gen(5)).y.requires_grad_(True)
    (score,) = torch.autograd.grad(module(yg).sum(), yg)
    assert (score.abs().sum(1) > 0).float().mean() > 0.9  # samplers get a score on the support


@pytest.mark.parametrize("name", ["8gaussians", "rings", "checkerboard", "moons"])
def test_oracle_grid_nll_equals_its_test_nll(name):
    """Normalising exp(-E) on the grid changes nothing for a normalised density: the grid NLL
    of the oracle is -mean log p of the split, up to the grid's quadrature error."""
    task = TOY[name]()
    module, data = build(task, n=2000)
    with torch.no_grad():
        e_grid = module(grid.grid_points()).double()
        e_test = module(data.test.y).double()
    nll = grid_nll(e_grid, float(e_test.mean()), 1.0, grid.cell_area())
    assert nll == pytest.approx(float(e_test.mean()), abs=3e-3)


# ---------------------------------------------------------------- conditional laws
def test_horn_oracle_equals_angular_quadrature():
    from scipy import integrate
    from scipy.stats import multivariate_normal

    module, _ = build(Horn())
    s = Horn.NOISE
    x = torch.tensor([[0.0], [0.5], [1.0], [1.0], [0.2]])
    r = Horn.radii(x).numpy()
    # on the ellipse, just off it, inside it, and far from it
    y = torch.tensor([[2.0, 0.0], [0.0, 1.5 * math.e + 0.04], [r[2, 0] * 0.6, r[2, 1] * 0.8], [0.0, 0.0], [1.0, 1.0]])
    ours = -module(y.double(), x).numpy()
    for i in range(len(y)):

        def f(t, i=i):
            mean = r[i] * np.array([np.cos(t), np.sin(t)])
            return multivariate_normal(mean, s * s * np.eye(2)).pdf(y[i].numpy()) / (2 * np.pi)

        # the integrand is a narrow peak (width s / radius ~ 0.02 rad) at y's own angle: tell quad
        peak = math.atan2(y[i, 1] / r[i, 1], y[i, 0] / r[i, 0]) % (2 * math.pi)
        p = integrate.quad(f, 0, 2 * np.pi, limit=2000, epsabs=0, epsrel=1e-10, points=[peak])[0]
        if p > 1e-300:
            assert ours[i] == pytest.approx(math.log(p), abs=1e-6)
        else:
            assert ours[i] < -600  # the quadrature underflows; ours stays finite, in the log domain


@pytest.mark.parametrize("x0", [0.0, 1.0])
def test_horn_oracle_integrates_to_one_over_y(x0):
    """In scaled-ellipse coordinates y = (1 + u) (rho1 cos t, rho2 sin t), dy = rho1 rho2 (1 + u)
    du dt; the band |u| <= 12 s / min(rho) holds all but ~exp(-72) of the mass."""
    module, _ = build(Horn())
    r = Horn.radii(torch.tensor([[x0]])).double()[0]
    delta = 12 * Horn.NOISE / float(r.min())
    nu, nt = 48, 512  # 0.5 noise sds across (the midpoint rule is spectrally accurate on a Gaussian)
    u = (torch.arange(nu, dtype=torch.float64) + 0.5) / nu * 2 * delta - delta  # midpoint rule across
    t = torch.arange(nt, dtype=torch.float64) * 2 * math.pi / nt  # periodic trapezoid along
    gu, gt = torch.meshgrid(u, t, indexing="ij")
    y = (1 + gu.reshape(-1, 1)) * r * torch.stack([torch.cos(gt.reshape(-1)), torch.sin(gt.reshape(-1))], 1)
    with torch.no_grad():
        p = torch.exp(-module(y, torch.full((len(y), 1), x0, dtype=torch.float64)))
    jac = float(r[0] * r[1]) * (1 + gu.reshape(-1))
    mass = float((p * jac).sum()) * (2 * delta / nu) * (2 * math.pi / nt)
    assert mass == pytest.approx(1.0, abs=1e-3)


def test_branches_oracle_is_the_three_gaussian_mixture():
    from scipy.stats import norm

    module, _ = build(Branches())
    s = Branches().sample(400, gen(6))
    f = Branches.branch_values(s.x).numpy()
    want = np.log(norm.pdf(s.y.double().numpy(), loc=f, scale=0.1).mean(1))
    assert np.allclose(-module(s.y, s.x).double().numpy(), want, atol=1e-4)


def test_horn_oracle_nll_is_the_conditional_entropy_within_its_standard_error():
    """E over samples of (x, y) of -log p(y | x) estimates the conditional entropy. For noise
    s much smaller than the ellipse, H(y | x) ~ log(perimeter(x)) + 1/2 log(2 pi e s^2) (a
    uniform law along the curve times a 1-D normal across it), averaged over x ~ U(0, 1)."""
    from scipy import integrate
    from scipy.special import ellipe

    module, _ = build(Horn())
    s = Horn().sample(20_000, gen(7))
    with torch.no_grad():
        lp = -module(s.y, s.x).double()
    se = float(lp.std()) / math.sqrt(len(lp))

    def log_perimeter(x):
        r = Horn.radii(torch.tensor([[x]])).numpy()[0]
        a, b = r.max(), r.min()
        return math.log(4 * a * ellipe(1 - (b / a) ** 2))

    h = integrate.quad(log_perimeter, 0, 1)[0] + 0.5 * math.log(2 * math.pi * math.e * Horn.NOISE**2)
    # the thin-noise approximation is off by O((s / radius)^2) ~ 1e-3 nats
    assert abs(float(-lp.mean()) - h) < 4 * se + 2e-3, (float(-lp.mean()), h, se)


# ---------------------------------------------------------------- end to end
@pytest.mark.slow  # a whole run: ~10 s
def test_oracle_runs_through_the_same_evaluation(tmp_path):
    df = ebmbench.run(
        tasks=["rings", "horn", "branches", "digits"],
        models="oracle",
        methods=["given", "kde"],
        seeds=1,
        profile="smoke",
        metrics=["nll_grid", "mmd2", "inference_error"],
        out=tmp_path,
    )
    rows = df.set_index(["task", "label"])
    for task in ("rings", "horn", "branches"):
        assert rows.loc[(task, "oracle/given"), "status"] == "done", rows.loc[(task, "oracle/given")].get("reason")
    assert rows.loc[("digits", "oracle/given"), "status"] == "skipped"
    assert "no exact log_density" in rows.loc[("digits", "oracle/given"), "reason"]
    assert "kde trains density models, oracle is oracle" in rows.loc[("rings", "oracle/kde"), "reason"]
    assert abs(rows.loc[("rings", "oracle/given"), "nll_grid"] - 2.6232) < 0.15  # 500 test points: se ~0.04
