"""Persistent contrastive divergence with a Langevin replay buffer (primer §2).

Maximum-likelihood gradient with negatives from persistent chains: a buffer of
past Langevin samples, a fraction re-initialised from uniform noise each step,
an L2 penalty alpha * (E+^2 + E-^2) on energies, Adam with beta1 = 0.
Conditional tasks keep (x, y) pairs in the buffer: chains of y run at the x they
were started with, and re-initialised chains take x from the data batch.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["PCD"]


class PCD(ebmbench.Method):
    name = "pcd"
    family = "contrastive"
    summary = "persistent contrastive divergence: Langevin replay buffer, 5% re-init, L2 energy penalty"
    reference = "Tieleman 2008; Du & Mordatch 2019 (IGEBM) replay-buffer recipe"
    params = {
        "steps": ebmbench.Param(20, "Langevin steps per update", low=1),
        "step": ebmbench.Param(0.01, "Langevin step size (width-8 domain)", low=0),
        "noise": ebmbench.Param(-1.0, "Langevin noise; -1 = sqrt(2*step) (T = 1)", low=-1),
        "buffer": ebmbench.Param(10000, "replay buffer size", low=1),
        "reinit": ebmbench.Param(0.05, "fraction of chains restarted from noise", low=0, high=1),
        "alpha": ebmbench.Param(0.1, "L2 energy penalty weight", low=0),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0),
    }

    def langevin(self):
        return {"steps": self.p["steps"], "step": self.p["step"], "noise": self.p["noise"]}

    def sampler(self):
        return "langevin", {"step": self.p["step"], "noise": self.p["noise"]}

    def train(self, model, data, ctx):
        g = ctx.generator("pcd")
        sampler = ctx.sampler("langevin", **self.langevin())
        domain = ctx.domain()
        train = data.train
        size = min(self.p["buffer"], ctx.profile.n_train * 10)
        buf_y = ctx.uniform(size, g)
        buf_x = None if train.x is None else train.x[ctx.minibatch(len(train), size, g)]
        age = torch.zeros(size, device=buf_y.device)
        opt = torch.optim.Adam(model.parameters(), lr=self.p["lr"], betas=(0.0, 0.999))
        batch = ctx.profile.batch_size
        log_every = max(1, ctx.profile.train_steps // 100)
        for step in range(ctx.profile.train_steps):
            pos_idx = ctx.minibatch(len(train), batch, g)
            y_pos = train.y[pos_idx]
            x_pos = None if train.x is None else train.x[pos_idx]
            slot = ctx.minibatch(size, batch, g)
            restart = torch.rand(batch, generator=g, device=buf_y.device) < self.p["reinit"]
            y0 = torch.where(restart[:, None], ctx.uniform(batch, g), buf_y[slot])
            x_neg = None
            if buf_x is not None:
                x_neg = torch.where(restart[:, None], x_pos, buf_x[slot])
            y_neg = sampler.sample(lambda y: model(y, x_neg), y0, g, domain=domain).samples
            ctx.grad_evals += self.p["steps"] * batch
            buf_y[slot] = y_neg
            if buf_x is not None:
                buf_x[slot] = x_neg
            age[slot] = torch.where(restart, 0.0, age[slot] + 1)

            e_pos, e_neg = model(y_pos, x_pos), model(y_neg, x_neg)
            cd = e_pos.mean() - e_neg.mean()
            loss = cd + self.p["alpha"] * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            opt.step()
            if step % log_every == 0 or step == ctx.profile.train_steps - 1:
                ctx.log(step, loss=loss.item(), energy_gap=-cd.item(), grad_norm=gnorm.item(),
                        buffer_age=age.mean().item(), noise_gap=ctx.noise_gap(model, y_pos, x_pos))


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(PCD)
