"""Denoising score matching (Vincent 2011), primer §2.

Perturb y with N(0, sigma^2 I) and regress the model score -grad_y E(y~) onto the
score of the perturbation kernel -(y~ - y) / sigma^2. The loss is weighted by
sigma^2 (Song & Ermon 2019), which changes no optimum but keeps its scale near 1.
Conditional tasks perturb y only.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["DSM", "dsm_loss"]


def dsm_loss(model, y, x, sigma, generator):
    y_tilde = (y + sigma * torch.randn(y.shape, generator=generator, device=y.device)).requires_grad_(True)
    (grad_e,) = torch.autograd.grad(model(y_tilde, x).sum(), y_tilde, create_graph=True)
    target = (y_tilde - y) / sigma**2  # = grad_y of -log q(y~|y); model score is -grad_e
    return 0.5 * sigma**2 * (grad_e - target).pow(2).sum(-1).mean()


class DSM(ebmbench.Method):
    name = "dsm"
    family = "contrastive"
    summary = "denoising score matching at one noise level sigma"
    reference = "Vincent 2011, A Connection Between Score Matching and Denoising Autoencoders"
    params = {
        "sigma": ebmbench.Param(0.1, "perturbation std (in data units)", low=0),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0),
    }

    def train(self, model, data, ctx):
        g = ctx.generator("dsm")
        opt = torch.optim.Adam(model.parameters(), lr=self.p["lr"])
        train = data.train
        log_every = max(1, ctx.profile.train_steps // 100)
        for step in range(ctx.profile.train_steps):
            idx = ctx.minibatch(len(train), ctx.profile.batch_size, g)
            y, x = train.y[idx], None if train.x is None else train.x[idx]
            loss = dsm_loss(model, y, x, self.p["sigma"], g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            opt.step()
            if step % log_every == 0 or step == ctx.profile.train_steps - 1:
                gap = ctx.noise_gap(model, y, x)
                ctx.log(step, loss=loss.item(), energy_gap=gap, grad_norm=gnorm.item())


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(DSM)
