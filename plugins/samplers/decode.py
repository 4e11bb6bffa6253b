"""Ancestral sampling of an architectural model's own generative story (docs/science.md §3).

An architectural latent EBM (K-means, PCA, sparse coding, GLO) pairs a decoder D(z)
with a squared-error energy E(y, z) = ||y - D(z)||^2 (+ a penalty on z). Its samples
are not a chain on F(y) at some arbitrary temperature (Langevin at T = 1 on digits
gives pixel noise of variance 1/2 on a [0, 1] box: uniform noise, whatever the model):
they come from its generative story,

    z ~ p(z)    then    y | z ~ exp(-beta E(y, z)) normalised = N(D(z), I / (2 beta)),

at the model's own inverse temperature beta (F_beta is defined at it, and the report
sweeps it); at beta = inf the draws are D(z) itself. p(z) is the prior the model
carries: K-means' cluster frequencies, the Gaussian of PCA's codes (probabilistic PCA,
Tipping & Bishop 1999), a spike-and-Laplace fit to each sparse-coding atom's codes, the
full-covariance Gaussian of GLO's codes (Bojanowski et al. 2018). Each model documents
its own; the methods fit it after training (`fit_prior`).

Protocol (duck-typed, like block Gibbs reaching the RBM through `energy.module`): the
module behind the energy has `generate(n, generator, beta=None) -> [n, dim]`, n i.i.d.
draws at its own beta when beta is None. A model without it cannot be sampled here and
`sample` raises a ValueError that says so (the sample metrics then fail alone, with it).

The draws are exact and independent: `init` only sets how many rows (its values are
not used), `steps` is accepted because evaluation passes the profile's `sampler_steps`
(and ess_per_s one step per call) but changes nothing, no gradient or energy is
evaluated (grad_evals = energy_evals = 0), and `temperature` reports 1/beta. With
`clamp`, draws are projected onto the task's box, as the unadjusted samplers do: the
pushforward of the model's law through the projection (rejection would be exact for the
truncated law but almost never accepts a 64-dim Gaussian draw whose zero pixels must
stay >= 0).
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["Decode", "generative_module"]


def generative_module(energy):
    """The module behind `energy` if it tells its generative story, else a ValueError."""
    module = getattr(energy, "module", None)
    if module is None:
        raise ValueError("decode needs the model behind the energy (EvalContext.energy_fn carries it as .module)")
    if not callable(getattr(module, "generate", None)):
        raise ValueError(
            f"decode: the model ({type(module).__name__}) has no generative story "
            "(no generate(n, generator, beta=None) method)"
        )
    return module


class Decode(ebmbench.Sampler):
    name = "decode"
    summary = "ancestral draws of a latent model's generative story: z from its prior, decoded, plus noise at 1/beta"
    reference = "Tipping & Bishop 1999 (probabilistic PCA); Bojanowski et al. 2018 (GLO: a Gaussian fitted to codes)"
    params = {
        "steps": ebmbench.Param(1, "unused: draws are exact and independent (evaluation sets it)", low=0),
        "clamp": ebmbench.Param(True, "project the draws onto the task domain"),
    }

    def sample(self, energy, init, generator, *, domain=None):
        module = generative_module(energy)
        if getattr(energy, "x", None) is not None:
            raise ValueError("decode draws unconditional samples: the generative protocol takes no condition x")
        with torch.no_grad():
            y = module.generate(init.shape[0], generator).detach().to(init.dtype)
            if y.shape != init.shape:
                raise ValueError(f"{type(module).__name__}.generate gave shape {list(y.shape)}, not {list(init.shape)}")
            if domain is not None and self.p["clamp"]:
                y = torch.maximum(torch.minimum(y, domain[:, 1]), domain[:, 0])
        stats = {"grad_evals": 0.0, "energy_evals": 0.0}
        beta = getattr(module, "beta", None)
        if beta is not None:  # the temperature of the noise actually drawn: 1/beta, 0 at beta = inf
            stats["temperature"] = 0.0 if math.isinf(beta) else 1.0 / float(beta)
        return ebmbench.SampleResult(y, stats)


@ebmbench.hookimpl
def ebmbench_register_samplers(register):
    register(Decode)
