"""RBM training by contrastive divergence (CD-k) with block Gibbs sampling.

For a batch v0 (the data binarised at 0.5, like the model's input): the positive
phase uses p(h | v0); the negative phase runs k block-Gibbs sweeps v -> h -> v from
v0 (CD-k, Hinton 2002) or from persistent chains (PCD, Tieleman 2008). The update is
the gradient of mean F(v0) - mean F(v_k) with v_k held fixed, which is exactly
Hinton's <v h>_data - <v h>_model rule with hidden probabilities in place of samples.
SGD with momentum and weight decay follows Hinton 2010 (A Practical Guide to
Training RBMs): lr 0.05, momentum 0.5 then 0.9, L2 weight cost 1e-4 on W only.
Diagnostics: the one-step reconstruction error and a pseudo-log-likelihood (one
random bit flipped per image, D log sigmoid(F(flipped) - F(v)), as scikit-learn's
BernoulliRBM.score_samples).
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["RBMMethod", "pseudo_log_likelihood"]


def pseudo_log_likelihood(model, v, generator):
    """Stochastic pseudo-log-likelihood per row (one random coordinate flipped)."""
    i = torch.randint(0, v.shape[1], (v.shape[0],), generator=generator, device=v.device)
    flipped = v.clone()
    rows = torch.arange(v.shape[0], device=v.device)
    flipped[rows, i] = 1 - flipped[rows, i]
    return v.shape[1] * torch.nn.functional.logsigmoid(
        model.joint_free_energy(flipped, beta=1.0) - model.joint_free_energy(v, beta=1.0)
    )


class RBMMethod(ebmbench.Method):
    name = "rbm"
    family = "architectural"  # contrastive training, bipartite architecture: docs/science.md §2 puts it between
    model_families = frozenset({"rbm"})
    summary = "contrastive divergence CD-k (or persistent) with block Gibbs on a binary RBM"
    reference = "Hinton 2002 (CD); Tieleman 2008 (PCD); Hinton 2010, A Practical Guide to Training RBMs"
    params = {
        "k": ebmbench.Param(1, "Gibbs sweeps per update (CD-k)", low=1),
        "persistent": ebmbench.Param(False, "persistent chains (PCD) instead of restarting at the data"),
        "lr": ebmbench.Param(0.05, "SGD learning rate", low=0, low_open=True),
        "momentum": ebmbench.Param(0.9, "final momentum (0.5 for the first 5% of steps)", low=0, high=1),
        "weight_decay": ebmbench.Param(1e-4, "L2 weight cost on W", low=0),
    }

    def sampler(self):
        return "gibbs", {}

    def train(self, model, data, ctx):
        g = ctx.generator("rbm")
        train, val = data.train, data.val
        v_all = model.visible_input(train.y, train.x).detach()
        v_val = model.visible_input(val.y, val.x).detach()
        opt = torch.optim.SGD(
            [
                {"params": [model.W], "weight_decay": self.p["weight_decay"]},
                {"params": [model.b, model.c], "weight_decay": 0.0},
            ],
            lr=self.p["lr"],
            momentum=0.5,
        )
        steps, batch = ctx.profile.train_steps, ctx.profile.batch_size
        log_every = max(1, steps // 100)
        chains = None
        for step in range(steps):
            if step == max(1, steps // 20):
                for group in opt.param_groups:
                    group["momentum"] = self.p["momentum"]
            v0 = v_all[ctx.minibatch(len(v_all), batch, g)]
            with torch.no_grad():
                v = chains if (self.p["persistent"] and chains is not None) else v0
                for _ in range(self.p["k"]):
                    v, _ = model.gibbs_step(v, g)
                chains = v
            f_pos, f_neg = model.joint_free_energy(v0, 1.0).mean(), model.joint_free_energy(v, 1.0).mean()
            loss = f_pos - f_neg
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            opt.step()
            if step % log_every == 0 or step == steps - 1:
                with torch.no_grad():
                    recon = (model.visible_probs(model.hidden_probs(v_val)) - v_val).pow(2).sum(-1).mean()
                    pll = pseudo_log_likelihood(model, v_val, g).mean()
                ctx.log(
                    step,
                    loss=loss.item(),
                    energy_gap=-loss.item(),
                    reconstruction_error=recon.item(),
                    pseudo_log_likelihood=pll.item(),
                    grad_norm=gnorm.item(),
                    gibbs_sweeps=(step + 1) * self.p["k"],  # the sampling cost (no energy gradients)
                    noise_gap=ctx.noise_gap(model, val.y, val.x),
                )


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(RBMMethod)
