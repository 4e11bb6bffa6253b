"""Test NLL above 2-D by annealed importance sampling (AIS; Neal 2001): `ais_nll`, `ais_nll_se`.

What is measured. An energy F defines the density p(y) = exp(-F(y)) / Z on the task's
domain box B (digits: [0, 1]^64), the analogue of `nll_grid`'s normalisation on its grid
box; on the box every energy that is finite there is normalisable (a PCA or K-means
energy is flat or quadratic, an MLP's may fall without bound outside the data: on R^64
many of them have no Z). Then

    ais_nll = mean_test F(y) + log Z      (nats per image; bits/dim = ais_nll / (D ln 2)).

Nats per image is the convention of the AIS literature on binarised digits (Salakhutdinov
& Murray 2008); bits/dim belongs to dequantised 8-bit images, which these 17-level pixels
are not. A density on a box can exceed 1, so the value can be negative (uniform: 0).

How log Z is estimated. K independent AIS runs go from a tractable base p0 = f0 / Z0
to p1 ∝ f1 = exp(-F) through f_t = f0^(1 - b_t) f1^(b_t), b_0 = 0 < ... < b_T = 1 on a
sigmoidal schedule (Grosse, Maddison & Salakhutdinov 2013; delta = 4), T = `temps` x the
profile's `sampler_steps` (smoke 300, quick 750, full 2500). Run k carries the weight
log w_k = sum_t log f_t(y_{t-1}) - log f_{t-1}(y_{t-1}), with y_t drawn by a kernel that
leaves f_t invariant; E[w_k] = Z / Z0, so log Z ≈ log Z0 + log mean_k w_k.

* Continuous energies: p0 is a diagonal Gaussian truncated to the box, Z0 in closed form
  (normal CDFs). It is fitted to the model, not to the data: two pilot AIS runs (a
  quarter of the temperatures each, their own generator), the first from the training
  split's Gaussian (std floored at `std_floor` x the domain width: digits' border pixels
  are constant), the second from the Gaussian of the first's final states; the main
  run's base is the Gaussian of the second's final states, std x `inflate` (1.5: a base
  broader than the target keeps the weights tame). The base is fixed before the main
  run, so the main run stays an exact AIS. Why: a base fitted to the data was right for
  no family at smoke (600 temperatures): std floors 0.01 / 0.1 / 1 gave log Z -8.3 /
  -5.36 / -5.31 on a PCD MLP (the broadest best), but -16.2 / -16.1 / -27.5 on the digits
  Gaussian baseline, whose box mass is -16.10 by SciPy's Genz integration (the narrowest
  best); one pilot fixed both (-5.32, -16.06) but not a split where the ridged Gaussian
  has pixels of std 3e-5 (-20.8 for Genz's -14.72); two pilots give -14.81 there, -16.06,
  -5.32 on the MLP and -11.55 on K-means (-11.60 with a wide base and 2400 temperatures).
  Transitions: one HMC step (`leapfrog` steps, Duane et al. 1987)
  preconditioned by the base's std, with reflection at the box walls (Neal 2011, §5.1:
  reflection keeps the leapfrog map volume-preserving and reversible, so the Metropolis
  test stays exact; a proposal leaving the box is not wasted). The step size follows the
  pooled acceptance towards 0.65 from one temperature to the next (as Wu et al. 2017
  tune AIS-HMC): each kernel still leaves its own f_t invariant; adapting on the chains'
  past makes the runs weakly dependent, an effect far below the standard error here.
* The RBM (a module with `gibbs_step` and parameters W, b, c, at beta = 1): Salakhutdinov
  & Murray's reference scheme. p0 is the base-rate RBM (no weights, visible biases
  log p / (1 - p) of the binarised training pixel means, Laplace-smoothed); the t-th
  distribution is the RBM with (1 - b_t) b0 + b_t b visible biases and b_t W, b_t c;
  each transition is one block-Gibbs sweep v -> h -> v. Its hidden units are summed
  exactly in every weight (log f_t(v) has a softplus per hidden unit).
* Other binary energies (`binarize = True`, e.g. the RBM at beta != 1): the same base
  rates, and D single-site Metropolis flips (one systematic sweep) per temperature.

A thresholded (binary) energy F(y) = F(1[y > 0.5]) is piecewise constant on the box, so
its box integral is sum_v exp(-F(v)) x the volume of v's orthant cell, Z_box = Z_disc
prod_i l_i(v_i) (l = 0.5 - lo or hi - 0.5): on [0, 1]^D, log Z_box = log Z_disc - D log 2.
`ais_nll` reports the box NLL, comparable across families; the discrete NLL of the
binarised test images that RBM papers report is ais_nll + D log 2 (44.36 nats on digits).

Latent models are scored with what their forward returns: F_beta at the model's beta
(the default F_inf = min_z E(y, z) for glo, kmeans, pca, sparse coding): exp(-F) is the
density those models define.

Uncertainty. `ais_nll_se` is the standard error of log mean_k w_k over the K runs by the
delta method: sd(w) / (sqrt(K) mean(w)). It ignores the test split's own sampling error
(the same for every model). By Jensen E[log Z_hat] <= log Z: AIS underestimates log Z in
expectation, and log Z enters the NLL with a plus sign, so ais_nll is a stochastic LOWER
bound of the true NLL in expectation: an unconverged run flatters the model (the
opposite of a directed model's AIS, whose log p-hat is a lower bound). Read a large
`ais_nll_se` as a warning, not as a wide interval around a fair value: the delta-method
SE, estimated from the same weights, understates the error when the weights are
heavy-tailed (too few temperatures), and the bias runs in one direction. Applies to unconditional tasks above
2-D; the 2-D tasks have the exact grid NLL (`nll_grid`), and a conditional NLL would need
one log Z(x) per test condition.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = [
    "AISNLL",
    "AISNLLSE",
    "BoxGaussian",
    "sigmoid_schedule",
    "log_mean_exp_se",
    "ais_continuous",
    "ais_rbm",
    "ais_binary",
    "rbm_structure",
    "ais_state",
    "TARGET_ACCEPT",
]

TARGET_ACCEPT = 0.65  # HMC's optimal acceptance in high dimension (Beskos et al. 2013)
_REF = "Neal 2001 (AIS); Salakhutdinov & Murray 2008 (AIS for RBMs); docs/science.md §1"


# ---------------------------------------------------------------- pure functions
def sigmoid_schedule(n: int, delta: float = 4.0):
    """n + 1 inverse temperatures from 0 to 1 (float64), dense at both ends (Grosse et al. 2013)."""
    s = torch.sigmoid(torch.linspace(-delta, delta, n + 1, dtype=torch.float64))
    b = (s - s[0]) / (s[-1] - s[0])
    b[0], b[-1] = 0.0, 1.0
    return b


def log_mean_exp_se(log_w) -> tuple[float, float]:
    """(log mean exp(log_w), its delta-method standard error sd(w) / (sqrt(K) mean(w)))."""
    lw = torch.as_tensor(log_w, dtype=torch.float64)
    top = lw.max()
    w = torch.exp(lw - top)
    mean = w.mean()
    se = float(w.std() / (math.sqrt(lw.numel()) * mean)) if lw.numel() > 1 else math.inf
    return float(top + mean.log()), se


def _log_diff_ndtr(a, b):
    """log(Phi(b) - Phi(a)) for a < b, computed in the tail that keeps its digits."""
    flip = a > 0  # both in the upper tail: Phi(b) - Phi(a) = Phi(-a) - Phi(-b)
    lo, hi = torch.where(flip, -b, a), torch.where(flip, -a, b)
    lhi, llo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return lhi + torch.log1p(-torch.exp(llo - lhi))


class BoxGaussian:
    """N(mean, diag(std^2)) restricted to the box [lo, hi] (bounds [D, 2]; None = all of R^D):
    energy E0 = |(y - mean) / std|^2 / 2, exact log Z0, inverse-CDF sampling."""

    def __init__(self, mean, std, bounds=None):
        self.mean, self.std = mean.double(), std.double()
        self.bounds = None if bounds is None else bounds.double()
        log_z = torch.log(self.std) + 0.5 * math.log(2 * math.pi)
        if self.bounds is not None:
            a, b = self._standard_bounds()
            log_z = log_z + _log_diff_ndtr(a, b)
        self.log_z = float(log_z.sum())

    def _standard_bounds(self):
        return (self.bounds[:, 0] - self.mean) / self.std, (self.bounds[:, 1] - self.mean) / self.std

    def energy(self, y):
        return 0.5 * ((y.double() - self.mean) / self.std).pow(2).sum(-1)

    def sample(self, n: int, generator):
        shape = (n, self.mean.numel())
        u = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64).to(self.mean.device)
        if self.bounds is None:
            return self.mean + self.std * torch.special.ndtri(u.clamp(1e-300, 1 - 1e-16))
        a, b = self._standard_bounds()
        lo, hi = torch.special.ndtr(a), torch.special.ndtr(b)
        # the upper tail through the mirror image, where the CDF keeps its digits
        flip = a > 0
        lo_f, hi_f = torch.special.ndtr(-b), torch.special.ndtr(-a)
        z_lo = torch.special.ndtri((lo + u * (hi - lo)).clamp(1e-300, 1 - 1e-16))
        z_hi = -torch.special.ndtri((lo_f + u * (hi_f - lo_f)).clamp(1e-300, 1 - 1e-16))
        z = torch.where(flip, z_hi, z_lo)
        return (self.mean + self.std * z).clamp(self.bounds[:, 0], self.bounds[:, 1])


def _value_and_grad(energy, y):
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        e = energy(y)
        (g,) = torch.autograd.grad(e.sum(), y)
    return e.detach().double(), g.detach()


def _reflect(q, p, bounds):
    """Fold positions back into the box, flipping the momentum of each reflected coordinate."""
    lo, width = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    u = (q - lo) / width
    k = torch.floor(u)
    frac = u - k
    odd = torch.remainder(k, 2) == 1
    return lo + width * torch.where(odd, 1 - frac, frac), torch.where(odd, -p, p)


def ais_continuous(
    energy, base: BoxGaussian, betas, chains: int, generator, leapfrog: int = 2, step: float = 0.3, return_states=False
):
    """log w [chains] (float64) of AIS from `base` to exp(-energy) with reflective HMC
    (and the final states [chains, D] with `return_states`).

    `energy` maps [B, D] float32 to [B]; it is differentiated with respect to y."""
    bounds = None if base.bounds is None else base.bounds.float()
    scale = base.std.float()
    y = base.sample(chains, generator).float()
    f1, g1 = _value_and_grad(energy, y)
    log_w = torch.zeros(chains, dtype=torch.float64, device=y.device)
    log_step = math.log(step)

    def grad_u(q, gq, beta):  # gradient of U_beta = beta F + (1 - beta) E0, as float32
        return (beta * gq.double() + (1 - beta) * (q.double() - base.mean) / base.std**2).float()

    for t in range(1, len(betas)):
        b0, b1 = float(betas[t - 1]), float(betas[t])
        e0 = base.energy(y)
        log_w += (b1 - b0) * (e0 - f1)  # log f1 - log f0 at the current state
        if not torch.isfinite(log_w).any():
            raise ebmbench.Diverged("AIS weights are all non-finite (the energy is NaN or -inf on the box)")

        eps = math.exp(log_step)
        p = torch.randn(y.shape, generator=generator, device=generator.device).to(y.device)
        u_old = b1 * f1 + (1 - b1) * e0
        h_old = u_old + 0.5 * p.double().pow(2).sum(-1)
        q, fq, gq = y, f1, g1
        p = p - 0.5 * eps * scale * grad_u(q, gq, b1)
        for i in range(leapfrog):
            q = q + eps * scale * p
            if bounds is not None:
                q, p = _reflect(q, p, bounds)
            fq, gq = _value_and_grad(energy, q)
            last = i == leapfrog - 1
            p = p - (0.5 if last else 1.0) * eps * scale * grad_u(q, gq, b1)
        h_new = b1 * fq + (1 - b1) * base.energy(q) + 0.5 * p.double().pow(2).sum(-1)
        u = torch.rand(chains, generator=generator, device=generator.device, dtype=torch.float64)
        ok = torch.isfinite(h_new) & torch.isfinite(gq).all(-1) & (u.to(y.device).log() < h_old - h_new)
        y = torch.where(ok[:, None], q, y)
        f1 = torch.where(ok, fq, f1)
        g1 = torch.where(ok[:, None], gq, g1)
        log_step += 0.2 * (float(ok.double().mean()) - TARGET_ACCEPT)  # Robbins-Monro on the pooled rate
    return (log_w, y) if return_states else log_w


def _bernoulli(p, generator):
    u = torch.rand(p.shape, generator=generator, device=generator.device, dtype=p.dtype).to(p.device)
    return (u < p).to(p.dtype)


def ais_rbm(W, b, c, base_bias, betas, chains: int, generator):
    """(log w [chains], log Z0) of Salakhutdinov & Murray's AIS for a binary RBM with
    E(v, h) = -b.v - c.h - v.W.h, from the base-rate RBM with visible biases `base_bias`."""
    W, b, c, b0 = W.double(), b.double(), c.double(), base_bias.double()
    F = torch.nn.functional

    def log_f(v, beta):  # hidden units summed out: log sum_h exp(-E_beta(v, h))
        return v @ ((1 - beta) * b0 + beta * b) + F.softplus(beta * (v @ W + c)).sum(-1)

    log_z0 = float(F.softplus(b0).sum()) + W.shape[1] * math.log(2)
    v = _bernoulli(torch.sigmoid(b0).expand(chains, -1), generator)
    log_w = torch.zeros(chains, dtype=torch.float64, device=v.device)
    for t in range(1, len(betas)):
        beta0, beta1 = float(betas[t - 1]), float(betas[t])
        log_w += log_f(v, beta1) - log_f(v, beta0)
        h = _bernoulli(torch.sigmoid(beta1 * (v @ W + c)), generator)
        v = _bernoulli(torch.sigmoid((1 - beta1) * b0 + beta1 * (h @ W.T + b)), generator)
    return log_w, log_z0


def ais_binary(energy, base_bias, betas, chains: int, generator):
    """(log w [chains], log Z0) of AIS on binary vectors for any energy of v in {0, 1}^D:
    factorised Bernoulli base, one systematic sweep of single-site Metropolis flips per
    temperature (each kernel is reversible with respect to its f_t)."""
    b0 = base_bias.double()
    log_z0 = float(torch.nn.functional.softplus(b0).sum())
    v = _bernoulli(torch.sigmoid(b0).expand(chains, -1), generator)
    with torch.no_grad():
        f = energy(v.float()).double()
    log_w = torch.zeros(chains, dtype=torch.float64, device=v.device)
    for t in range(1, len(betas)):
        beta0, beta1 = float(betas[t - 1]), float(betas[t])
        log_w += (beta1 - beta0) * (-f - v @ b0)
        for i in range(v.shape[1]):
            w = v.clone()
            w[:, i] = 1 - w[:, i]
            with torch.no_grad():
                fw = energy(w.float()).double()
            delta = (1 - beta1) * (w[:, i] - v[:, i]) * b0[i] - beta1 * (fw - f)
            u = torch.rand(v.shape[0], generator=generator, device=generator.device, dtype=torch.float64)
            ok = torch.isfinite(fw) & (u.to(v.device).log() < delta)
            v = torch.where(ok[:, None], w, v)
            f = torch.where(ok, fw, f)
    return log_w, log_z0


# ------------------------------------------------------------- the model's structure
def rbm_structure(module, bounds):
    """(W, b, c) of a binary RBM at beta = 1 whose forward is its free energy, visible
    biases shifted by the log-ratio of the box's orthant cell lengths (so the discrete
    sum is the box integral, up to the constant sum_i log l0_i); else None."""
    if not (hasattr(module, "gibbs_step") and all(hasattr(module, n) for n in ("W", "b", "c"))):
        return None
    if not getattr(module, "binarize", False) or getattr(module, "beta", 1.0) != 1.0 or getattr(module, "n_cond", 0):
        return None
    W, b, c = (getattr(module, n).detach().double() for n in ("W", "b", "c"))
    g = torch.Generator(device="cpu").manual_seed(0)  # a fixed probe, not a random draw of the metric
    v = (torch.rand(64, W.shape[0], generator=g, dtype=torch.float64) < 0.5).double().to(W.device)
    with torch.no_grad():  # the forward must be the free energy the Gibbs scheme assumes
        ours = -(v @ b) - torch.nn.functional.softplus(v @ W + c).sum(-1)
        theirs = module(v.float()).double()
    if not torch.allclose(ours, theirs, rtol=1e-4, atol=1e-3):
        return None
    return W, b + _cell_log_ratio(bounds).to(W.device), c


def _cell_log_ratio(bounds):
    """log(l1 / l0) per coordinate: the orthant cells of a 0.5 threshold inside the box."""
    lo, hi = bounds[:, 0].double(), bounds[:, 1].double()
    if bool(((lo >= 0.5) | (hi <= 0.5)).any()):
        raise ValueError("a binary energy thresholds at 0.5, which must lie inside the domain")
    return torch.log(hi - 0.5) - torch.log(0.5 - lo)


def _cell_log_volume0(bounds) -> float:
    return float(torch.log(0.5 - bounds[:, 0].double()).sum())


# ------------------------------------------------------------- the shared state
def continuous_base(model, train, bounds, betas, chains, leapfrog, std_floor, inflate, ctx, rounds=2, pilot=0.25):
    """The main run's base: a diagonal Gaussian on the box fitted to the final states of
    `rounds` pilot AIS runs (a quarter of the temperatures each, their own generator), the
    first from the training split's Gaussian (std floored at `std_floor` x the mean domain
    width), each next from the previous fit; std widened by `inflate` (a base broader than
    the target keeps the weights tame), floored only at 1e-6 x the width (a sharp model's
    near-constant pixels need a base about as sharp)."""
    width = float((bounds[:, 1] - bounds[:, 0]).mean())
    base = BoxGaussian(train.double().mean(0), train.double().std(0).clamp_min(std_floor * width), bounds)
    n = max(1, round(pilot * (len(betas) - 1)))
    g = ctx.generator("ais-pilot")
    for _ in range(rounds):
        _, y = ais_continuous(model, base, sigmoid_schedule(n), chains, g, leapfrog, return_states=True)
        y = y.double()
        base = BoxGaussian(y.mean(0), (inflate * y.std(0)).clamp_min(1e-6 * width), bounds)
    return base


def ais_state(ctx, chains: int, temps: int, leapfrog: int, std_floor: float, inflate: float) -> dict:
    """log Z, its SE, the mean test energy and the route taken (computed once per cell)."""
    key = ("ais", chains, temps, leapfrog, std_floor, inflate)
    if key in ctx.cache:
        return ctx.cache[key]
    model, train = ctx.model, ctx.data.train.y
    bounds = ctx.domain().double()
    betas = sigmoid_schedule(temps * ctx.profile.sampler_steps)
    g = ctx.generator("ais")
    rbm = rbm_structure(model, bounds)
    binary = rbm is not None or bool(getattr(model, "binarize", False))
    if binary:  # base rates of the binarised training pixels, Laplace-smoothed
        n1 = (train > 0.5).double().sum(0)
        p = (n1 + 1) / (train.shape[0] + 2)
        base_bias = torch.log(p / (1 - p)) + _cell_log_ratio(bounds).to(p.device)
    if rbm is not None:
        route = "rbm-gibbs"
        log_w, log_z0 = ais_rbm(*rbm, base_bias, betas, chains, g)
        log_z0 += _cell_log_volume0(bounds)
    elif binary:
        route = "binary-metropolis"
        shift = _cell_log_ratio(bounds).to(train.device)

        def energy(v):  # the box integral's discrete form: F(v) - v.log(l1 / l0)
            return model(v).double() - v.double() @ shift

        log_w, log_z0 = ais_binary(energy, base_bias, betas, chains, g)
        log_z0 += _cell_log_volume0(bounds)
    else:
        route = "continuous-hmc"
        base = continuous_base(model, train, bounds.to(train.device), betas, chains, leapfrog, std_floor, inflate, ctx)
        log_w, log_z0 = ais_continuous(model, base, betas, chains, g, leapfrog), base.log_z
    log_mean, se = log_mean_exp_se(log_w)
    if not math.isfinite(log_mean):
        raise ebmbench.Diverged(f"AIS log-weights are not finite ({route})")
    w = torch.softmax(log_w, 0)
    state = {
        "log_z": log_z0 + log_mean,
        "se": se,
        "ess": float(1 / w.pow(2).sum()),
        "route": route,
        "mean_test_energy": float(ctx.energy(ctx.data.test.y).double().mean()),
    }
    ctx.cache[key] = state
    return state


# ------------------------------------------------------------------- metrics
class _AISMetric(ebmbench.Metric):
    task_kinds = frozenset({"unconditional"})
    reference = _REF
    params = {
        "chains": ebmbench.Param(32, "independent AIS runs K (the SE is over them)", low=2),
        "temps": ebmbench.Param(5, "intermediate distributions per profile sampler step", low=1),
        "leapfrog": ebmbench.Param(2, "leapfrog steps of each HMC transition (continuous energies)", low=1),
        "std_floor": ebmbench.Param(0.1, "pilot base: floor of the data's std, x the mean domain width", low=0),
        "inflate": ebmbench.Param(1.5, "main base: the pilot's final std times this", low=1),
    }

    def applies_to(self, task):
        reason = super().applies_to(task)
        if reason is None and task.dim <= 2:
            return "2-D tasks have the exact grid NLL (nll_grid)"
        return reason

    def state(self, ctx) -> dict:
        p = self.p
        return ais_state(ctx, p["chains"], p["temps"], p["leapfrog"], p["std_floor"], p["inflate"])


class AISNLL(_AISMetric):
    name = "ais_nll"
    direction = "lower"
    summary = "test NLL (nats/image) of exp(-F) on the domain box, log Z by AIS (HMC; RBM: Gibbs)"

    def compute(self, ctx):
        s = self.state(ctx)
        return s["mean_test_energy"] + s["log_z"]


class AISNLLSE(_AISMetric):
    name = "ais_nll_se"
    direction = "none"
    summary = "standard error of ais_nll over the K AIS runs (delta method on the weights)"

    def compute(self, ctx):
        return self.state(ctx)["se"]


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(AISNLL)
    register(AISNLLSE)
