"""Sampler diagnostics and sampling cost (docs/science.md §3-4).

From the model samples every metric shares (`ctx.samples()`: the method's own
sampler, started from uniform noise, run for the profile's `sampler_steps`):

* `acceptance` — the Metropolis acceptance rate the sampler reports (MALA, HMC);
  NaN for samplers without an accept/reject step (ULA), which is "not defined",
  not a failure. Reported, not ranked: the optimal rate depends on the sampler;
* `samples_per_s` — model samples drawn per second of sampler wall time;
* `sampler_grad_evals` — energy-gradient evaluations per model sample (the core
  column `grad_evals` counts those spent in *training*).

`ess_per_s` measures mixing on a separate chain whose states are all kept: the
method's sampler, with its own settings, advanced one step at a time (`steps=1`
per call, so every state of the Markov chain is recorded) from `chains` held-out
test points (at their test x for conditional tasks). Starting at data puts the
chains near the model's typical set if the model fits; `warmup` steps are dropped
against the transient when it does not. On the kept `steps` states, the effective
sample size of each coordinate of y is computed with the multi-chain estimator of
Stan / Vehtari et al. (2021) — FFT autocovariances, between-chain variance, and
Geyer's (1992) initial monotone sequence — and the median over coordinates is
divided by the wall time of the kept steps. ESS/s is comparable across methods
only at the same `chains` and `steps` (vectorised chains are nearly free), which
the metric fixes.
"""

from __future__ import annotations

import math
import time

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = [
    "Acceptance",
    "SamplesPerSecond",
    "SamplerGradEvals",
    "ESSPerSecond",
    "autocovariance",
    "effective_sample_size",
    "record_chain",
]


# ------------------------------------------------------------------ the estimator
def autocovariance(x):
    """Biased autocovariances (divided by n) of each row of `x` [m, n], by FFT."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    c = x - x.mean(axis=-1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()  # zero padding: a linear, not circular, correlation
    f = np.fft.rfft(c, size, axis=-1)
    return np.fft.irfft(f * np.conj(f), size, axis=-1)[..., :n] / n


def effective_sample_size(chains) -> float:
    """ESS of a scalar quantity from `chains` [m, n] (m chains of n states).

    rho_t = 1 - (W - mean_j acov_j(t)) / var+   (W: mean within-chain variance,
    var+ = (n-1)/n W + B/n, B/n the variance of the chain means), then Geyer's
    initial positive sequence of pair sums rho_2k + rho_2k+1, made monotone, gives
    tau = -1 + 2 sum_k Gamma_k and ESS = m n / tau (tau floored at 1/log10(m n) as
    in Stan). For one AR(1) chain tau -> (1 + rho) / (1 - rho).
    """
    import numpy as np

    x = np.atleast_2d(np.asarray(chains, dtype=np.float64))
    m, n = x.shape
    if n < 4 or not np.isfinite(x).all():
        return math.nan
    acov = autocovariance(x)
    w = float((acov[:, 0] * n / (n - 1)).mean())
    var_plus = w * (n - 1) / n
    if m > 1:
        var_plus += float(x.mean(axis=1).var(ddof=1))
    if var_plus <= 0:  # a chain that never moves carries no information about mixing
        return math.nan
    rho = 1.0 - (w - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    pairs = rho[: 2 * (n // 2)].reshape(-1, 2).sum(axis=1)  # Gamma_k = rho_2k + rho_2k+1
    nonpos = np.flatnonzero(pairs <= 0)
    pairs = pairs[: nonpos[0]] if len(nonpos) else pairs  # initial positive sequence
    pairs = np.minimum.accumulate(pairs)  # initial monotone sequence
    tau = max(-1.0 + 2.0 * float(pairs.sum()), 1.0 / math.log10(m * n))
    return m * n / tau


# --------------------------------------------------------------------- the chain
def kernel_params(ctx, declared) -> dict:
    """Parameters that make a one-step call of the evaluation sampler its transition kernel.

    A sampler that replaces its starts (`resample_init`, sir_mala) would restart every
    recorded chain from a fresh draw at every step — an ESS of nothing and 20 energy
    evaluations per chain per step — and one that adapts its step during burn-in would not
    adapt in a single step. So the chain runs with the starts kept and the step the model's
    sample chains settled on (their `step` stat, already scaled to the domain)."""
    out = {}
    if "resample_init" in declared:
        out["resample_init"] = 0
    if "target_acceptance" in declared:
        out["target_acceptance"] = 0.0
        step = ctx.samples().stats.get("step")
        if step is not None and "step" in declared and step > 0 and math.isfinite(step):
            out["step"] = float(step)
            if "scale_to_domain" in declared:
                out["scale_to_domain"] = False
    return out


def record_chain(ctx, chains: int, steps: int, warmup: int):
    """Run the method's sampler one step per call; return (states [chains, steps, d], seconds).

    The time counts the kept steps only.
    """
    name, params = ctx.eval_sampler()
    declared = ctx.registry.get("samplers", name).cls.params
    if "steps" not in declared:
        raise ValueError(f"sampler {name!r} has no 'steps' parameter: its chain cannot be recorded")
    sampler = ctx.sampler(name, **{**params, **kernel_params(ctx, declared), "steps": 1})
    test = ctx.data.test
    k = min(chains, len(test))
    y = test.y[:k].clone()
    energy = ctx.energy_fn(None if test.x is None else test.x[:k])
    domain = ctx.domain()
    g = ctx.generator("ess-chain")
    for _ in range(warmup):
        y = sampler.sample(energy, y, g, domain=domain).samples.detach()
    states, elapsed = [], 0.0
    for _ in range(steps):
        t0 = time.perf_counter()
        y = sampler.sample(energy, y, g, domain=domain).samples.detach()
        elapsed += time.perf_counter() - t0
        states.append(y)
    return torch.stack(states, 1), elapsed


# ------------------------------------------------------------------- the metrics
def _stat(ctx, key):
    value = ctx.samples().stats.get(key)
    return math.nan if value is None else float(value)


class Acceptance(ebmbench.Metric):
    name = "acceptance"
    direction = "none"  # the best rate depends on the sampler (~0.57 MALA, ~0.65 HMC)
    summary = "Metropolis acceptance rate of the method's sampler (NaN if it has no MH step)"
    reference = "Roberts & Rosenthal 1998 (MALA); Neal 2011 (HMC)"

    def compute(self, ctx):
        return _stat(ctx, "acceptance")


class SamplesPerSecond(ebmbench.Metric):
    name = "samples_per_s"
    direction = "higher"
    summary = "model samples drawn per second by the method's sampler (profile's sampler_steps)"
    reference = "docs/science.md §4, cost"

    def compute(self, ctx):
        result = ctx.samples()
        return result.samples.shape[0] / max(float(result.stats["time_s"]), 1e-12)


class SamplerGradEvals(ebmbench.Metric):
    name = "sampler_grad_evals"
    sampling_cost_per_sample = True  # the report's cost figure counts the evaluation samples by it
    direction = "lower"
    summary = "energy-gradient evaluations per model sample (evaluation sampler; training's are grad_evals)"
    reference = "docs/science.md §4, cost"

    def compute(self, ctx):
        result = ctx.samples()
        return _stat(ctx, "grad_evals") / result.samples.shape[0]


class ESSPerSecond(ebmbench.Metric):
    name = "ess_per_s"
    direction = "higher"
    summary = "effective samples per second of the method's sampler, chains started at test data"
    reference = "Geyer 1992 initial monotone sequence; Vehtari et al. 2021 multi-chain ESS"
    params = {
        "chains": ebmbench.Param(32, "parallel chains, started at the first test points", low=2),
        "steps": ebmbench.Param(400, "kept sampler steps per chain", low=8),
        "warmup": ebmbench.Param(100, "discarded sampler steps before the kept ones", low=0),
    }

    def compute(self, ctx):
        import numpy as np

        states, seconds = record_chain(ctx, self.p["chains"], self.p["steps"], self.p["warmup"])
        x = states.double().cpu().numpy()  # [chains, steps, d]
        per_coord = [effective_sample_size(x[:, :, j]) for j in range(x.shape[2])]
        finite = [v for v in per_coord if math.isfinite(v)]
        if not finite:
            return math.nan
        return float(np.median(finite)) / max(seconds, 1e-12)


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(Acceptance)
    register(SamplesPerSecond)
    register(SamplerGradEvals)
    register(ESSPerSecond)
