"""MCMC maximum likelihood with non-persistent or Hamiltonian chains (docs/science.md §2).

Three ways to find the negatives of the ML gradient (the loop is `_contrastive`):

* `cd` — contrastive divergence (Hinton 2002): k Langevin steps started at the data
  batch itself. Cheap and stable, but chains never travel far from the data, so
  spurious low-energy regions away from it are never pushed up: CD learns the local
  shape of the density, not its global mass (a finding the grid NLL shows).
* `short_run` — short-run MCMC from noise (Nijkamp et al. 2019): every update starts
  K Langevin chains from uniform noise on the domain, no buffer. The K-step chain
  is itself the learned generator, so evaluation runs exactly that chain (same K,
  same step, from uniform noise) rather than a long chain: Nijkamp et al. show the
  energy need not be a faithful density away from what K steps reach.
* `hmc_ml` — negatives from HMC chains (leapfrog + MH test), so the chains sample
  exp(-E) without discretisation bias. `init` chooses the chain starts: `buffer`
  (default; persistent chains in a replay buffer with 5 % restarts, as PCD — HMC
  moves are short, and persistence is what lets chains reach every mode), `data`
  (CD with HMC, as in Teh et al. 2003) or `noise` (short-run HMC). HMC samples
  exp(-E) itself, so evaluation uses the suite's default evaluation sampler, as for
  `cd` and `pcd` at T = 1 (`_contrastive`). The curve logs the acceptance rate.
"""

from __future__ import annotations

from ebmbench_plugins.methods._contrastive import (
    OPTIM_PARAMS,
    MCMCMaxLikelihood,
    langevin_params,
)

import ebmbench

__all__ = ["CD", "ShortRun", "HMCML"]


class CD(MCMCMaxLikelihood):
    name = "cd"
    summary = "contrastive divergence CD-k: k Langevin steps started at the data"
    reference = "Hinton 2002, Training products of experts by minimizing contrastive divergence"
    params = {**langevin_params(20), **OPTIM_PARAMS}

    def negatives(self, state, sampler, model, y_pos, x_pos, ctx, generator):
        y_neg = self.run_chains(sampler, model, y_pos, x_pos, ctx, generator).samples
        return y_neg, x_pos, {}


class ShortRun(MCMCMaxLikelihood):
    name = "short_run"
    summary = "short-run MCMC ML: K Langevin steps from uniform noise each update, no buffer"
    reference = "Nijkamp, Hill, Zhu & Wu 2019, Learning non-convergent non-persistent short-run MCMC"
    params = {**langevin_params(30, step=0.02, capped=False), **OPTIM_PARAMS}
    auto_step = 0.02
    cap_step_by_task = False  # the K-step chain is the model: no stationary law to protect

    def sampler(self):
        """The learned model is the K-step chain from noise: evaluate exactly that chain."""
        return self.chain_sampler_name, self.chain_params()

    def negatives(self, state, sampler, model, y_pos, x_pos, ctx, generator):
        y0 = ctx.uniform(y_pos.shape[0], generator)
        y_neg = self.run_chains(sampler, model, y0, x_pos, ctx, generator).samples
        return y_neg, x_pos, {}


class HMCML(MCMCMaxLikelihood):
    name = "hmc_ml"
    summary = "ML with HMC negatives (leapfrog + MH), persistent buffer by default; logs acceptance"
    reference = "Neal 2011 (HMC); Teh, Welling, Osindero & Hinton 2003 (CD with hybrid Monte Carlo)"
    chain_sampler_name = "hmc"
    params = {
        "init": ebmbench.Param("buffer", "chain starts", choices=("buffer", "data", "noise")),
        "steps": ebmbench.Param(4, "HMC iterations per update", low=1),
        "leapfrog": ebmbench.Param(5, "leapfrog steps L per iteration", low=1),
        "step": ebmbench.Param(0.1, "leapfrog step eps (width-8 domain)", low=0, low_open=True),
        "grad_clip": ebmbench.Param(0.0, "clip the leapfrog force per chain (0 = off)", low=0),
        "buffer": ebmbench.Param(10000, "replay buffer size (init=buffer)", low=1),
        "reinit": ebmbench.Param(0.05, "fraction of buffer chains restarted from noise", low=0, high=1),
        **OPTIM_PARAMS,
    }

    def chain_params(self):
        return {k: self.p[k] for k in ("steps", "leapfrog", "step", "grad_clip")}

    def start(self, model, data, ctx, generator):
        if self.p["init"] != "buffer":
            return None
        return self.replay_buffer(data, ctx, generator)

    def negatives(self, buffer, sampler, model, y_pos, x_pos, ctx, generator):
        n = y_pos.shape[0]
        if buffer is not None:
            draw = buffer.draw(n, generator, x_pos)
            result = self.run_chains(sampler, model, draw.y, draw.x, ctx, generator)
            buffer.push(draw, result.samples)
            return result.samples, draw.x, {"buffer_age": buffer.mean_age}
        y0 = y_pos if self.p["init"] == "data" else ctx.uniform(n, generator)
        result = self.run_chains(sampler, model, y0, x_pos, ctx, generator)
        return result.samples, x_pos, {}


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(CD)
    register(ShortRun)
    register(HMCML)
