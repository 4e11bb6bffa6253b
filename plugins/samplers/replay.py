"""`replay`: persistent chains of any gradient sampler, kept in a replay buffer.

The buffer recipe of PCD (Tieleman 2008; Du & Mordatch 2019), offered as a sampler
of its own so evaluation — or any method — can draw samples the way PCD trains:
a buffer of chains started from the caller's starting points, advanced in `rounds`
batches by the `base` sampler, a `reinit` fraction restarted each round. Chains thus
run `rounds * steps` steps on average while each round costs only one batch.

Conditional energies (rows tied to conditions x, marked by `energy.x` as
EvalContext.energy_fn does) keep one chain per row: the buffer is the batch itself,
and a restarted chain restarts from its own row's starting point.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import
from ebmbench_plugins.samplers.buffer import ReplayBuffer

torch = lazy_import("torch")

__all__ = ["Replay"]

BASES = ("langevin", "mala", "hmc", "annealed_langevin")


def _base_class(name: str):
    from ebmbench_plugins.samplers.langevin import AnnealedLangevin, Langevin
    from ebmbench_plugins.samplers.metropolis import HMC, MALA

    return {"langevin": Langevin, "mala": MALA, "hmc": HMC, "annealed_langevin": AnnealedLangevin}[name]


class Replay(ebmbench.Sampler):
    name = "replay"
    summary = "a replay buffer of persistent chains around any gradient sampler (PCD's recipe)"
    reference = "Tieleman 2008 (PCD); Du & Mordatch 2019 (replay buffer, 5% re-init)"
    params = {
        "base": ebmbench.Param("langevin", "sampler that advances the chains", choices=BASES),
        "size": ebmbench.Param(4096, "buffer size (at least the number of samples asked for)", low=1),
        "reinit": ebmbench.Param(0.05, "fraction of chains restarted each round", low=0, high=1),
        "rounds": ebmbench.Param(10, "rounds: draw a batch, advance it, write it back", low=1),
        "steps": ebmbench.Param(20, "base-sampler steps per round", low=1),
        "step": ebmbench.Param(-1.0, "base-sampler step size; -1 = the base sampler's default", low=-1),
    }

    def base(self):
        kw = {"steps": self.p["steps"]}
        if self.p["step"] >= 0:
            kw["step"] = self.p["step"]
        return _base_class(self.p["base"])(**kw)

    def sample(self, energy, init, generator, *, domain=None):
        base = self.base()
        n = init.shape[0]
        start = init.detach()
        grad_evals, accepted = 0.0, []

        def note(result):
            nonlocal grad_evals
            grad_evals += result.stats.get("grad_evals", 0.0)
            if "acceptance" in result.stats:
                accepted.append(result.stats["acceptance"])

        if getattr(energy, "x", None) is not None:  # conditional: one chain per row
            y = start.clone()
            for _ in range(self.p["rounds"]):
                restart = torch.rand(n, generator=generator, device=y.device) < self.p["reinit"]
                y = torch.where(restart[:, None], start, y)
                result = base.sample(energy, y, generator, domain=domain)
                note(result)
                y = result.samples
            samples = y
        else:

            def fresh(k, g):  # restart from the caller's starting distribution
                return start[torch.randint(0, n, (k,), generator=g, device=start.device)]

            buffer = ReplayBuffer(fresh, max(self.p["size"], n), generator, reinit=self.p["reinit"])
            for _ in range(self.p["rounds"]):
                result, _draw = buffer.run(base, lambda x: energy, n, generator, domain)
                note(result)
            samples = result.samples
        stats = {"grad_evals": grad_evals}
        if accepted:
            stats["acceptance"] = float(sum(accepted) / len(accepted))
        return ebmbench.SampleResult(samples.detach(), stats)


@ebmbench.hookimpl
def ebmbench_register_samplers(register):
    register(Replay)
