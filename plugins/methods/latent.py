"""Latent-variable EBM training: minimise the free energy of the data (docs/science.md §1).

For a model whose latent set is finite (the horn's `latent_grid`, K-means
`prototype`s), each Adam step lowers the mean free energy of a minibatch,
F_inf(x, y) = min_z E(x, y, z) (beta = inf: "hard" assignment, as in K-means) or
F_beta = -(1/beta) log mean_z exp(-beta E) (a soft-min: every z gets weight
softmax(-beta E), as in soft K-means / EM). Nothing is pushed up: the structure
of E (y = f(x) * g(z) sweeps a 1-D curve for each x) limits the low-energy volume.
The training beta defaults to the model's own beta, so
`-m "latent_grid[beta=1|10|100]"` trains and evaluates each at the same temperature,
while `-M "latent_ml[beta=...]"` sets the training beta alone.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["LatentML"]


class LatentML(ebmbench.Method):
    name = "latent_ml"
    family = "architectural"
    model_families = frozenset({"latent_grid", "prototype"})
    inverse_temperature_param = "beta"  # 0 stands for the model's own beta
    summary = "minimise the data's free energy F_inf (min over z) or F_beta (soft-min) with Adam"
    reference = "LeCun et al. 2006 (A Tutorial on Energy-Based Learning, §latent variables); NYU DL 2020"
    params = {
        "beta": ebmbench.Param(
            0.0, "training inverse temperature (0 = the model's beta; inf = F_inf)", low=0, finite=False
        ),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0, low_open=True),
    }

    def sampler(self):
        return "gibbs", {}  # exact block Gibbs over (z, y) for these models

    def train(self, model, data, ctx):
        g = ctx.generator("latent-ml")
        beta = self.p["beta"] or model.beta
        train, val = data.train, data.val
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=self.p["lr"])
        steps = ctx.profile.train_steps
        log_every = max(1, steps // 100)
        for step in range(steps):
            idx = ctx.minibatch(len(train), ctx.profile.batch_size, g)
            y, x = train.y[idx], None if train.x is None else train.x[idx]
            loss = model.free_energy(y, x, beta=beta).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(params, math.inf)
            opt.step()
            if step % log_every == 0 or step == steps - 1:
                with torch.no_grad():
                    e = model.energies(val.y, val.x)  # [B, K]
                    used = torch.bincount(e.argmin(1), minlength=e.shape[1]).float()
                    usage = used / used.sum()
                    # perplexity of the hard assignments: how many latents the data uses
                    perplexity = math.exp(float(-(usage * usage.clamp_min(1e-12).log()).sum()))
                    val_f = float(model.free_energy(val.y, val.x).mean())
                ctx.log(
                    step,
                    loss=loss.item(),
                    val_free_energy=val_f,
                    val_min_energy=float(e.min(1).values.mean()),
                    latent_perplexity=perplexity,
                    grad_norm=gnorm.item(),
                    energy_gap=ctx.noise_gap(model, val.y, val.x),
                )


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(LatentML)
