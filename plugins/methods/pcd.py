"""Persistent contrastive divergence with a Langevin replay buffer (docs/science.md §2).

The reference MCMC recipe of the suite (Tieleman 2008; Du & Mordatch 2019, as
reused by JEM and the UvA tutorial): negatives come from persistent Langevin chains
kept in a replay buffer of ~10k states (`ReplayBuffer`), 5 % of each batch restarted
from uniform noise on the domain; the loss carries the L2 energy penalty
alpha * (E+^2 + E-^2); Adam with beta1 = 0 (see `_contrastive`).
Conditional tasks keep (x, y) pairs in the buffer: chains of y run at the x they
were started with, and restarted chains take x from the data batch.

On the toy tasks the chains run at T = 1 (noise = sqrt(2 step)), so the trained
energy is meant as exp(-E) itself and evaluation samples it with the same settings.
The buffer is capped at 10 x the training-set size so small profiles stay cheap.
"""

from __future__ import annotations

from ebmbench_plugins.methods._contrastive import (
    OPTIM_PARAMS,
    MCMCMaxLikelihood,
    langevin_params,
)

import ebmbench

__all__ = ["PCD"]


class PCD(MCMCMaxLikelihood):
    name = "pcd"
    summary = "persistent contrastive divergence: Langevin replay buffer, 5% re-init, L2 energy penalty"
    reference = "Tieleman 2008; Du & Mordatch 2019 (IGEBM) replay-buffer recipe"
    params = {
        **langevin_params(20),
        "buffer": ebmbench.Param(10000, "replay buffer size", low=1),
        "reinit": ebmbench.Param(0.05, "fraction of chains restarted from noise", low=0, high=1),
        **OPTIM_PARAMS,
    }

    def start(self, model, data, ctx, generator):
        return self.replay_buffer(data, ctx, generator)

    def negatives(self, buffer, sampler, model, y_pos, x_pos, ctx, generator):
        draw = buffer.draw(y_pos.shape[0], generator, x_pos)
        y_neg = self.run_chains(sampler, model, draw.y, draw.x, ctx, generator).samples
        buffer.push(draw, y_neg)
        return y_neg, draw.x, {"buffer_age": buffer.mean_age}


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(PCD)
