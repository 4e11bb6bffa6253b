"""Sparse coding: dictionary learning by alternating FISTA inference and dictionary steps.

E(y, z) = ||y - mu - W z||^2 + lam ||z||_1 (a `dictionary` model). Each step infers
z* = argmin_z E(y, z) for a minibatch by FISTA (Beck & Teboulle 2009), then takes an
Adam step on W for the minibatch's mean E(y, z*) with z* fixed — by Danskin's theorem
that is the gradient of the mean free energy F_inf — and renormalises the atoms to
unit norm (without the constraint, W could grow and z shrink, driving the L1 term to
zero: Olshausen & Field 1996; Mairal et al. 2009). Atoms no code in the batch uses are
restarted at a random batch residual (as K-SVD and online dictionary learning do).
Architectural: the L1 penalty, not negatives, keeps most of space at high energy.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["SparseCoding"]


class SparseCoding(ebmbench.Method):
    name = "sparse_coding"
    family = "architectural"
    model_families = frozenset({"dictionary"})
    task_kinds = frozenset({"unconditional"})
    summary = "dictionary learning: FISTA codes, Adam on the atoms, unit-norm projection"
    reference = "Olshausen & Field 1996; Beck & Teboulle 2009 (FISTA); Mairal et al. 2009"
    params = {
        "lr": ebmbench.Param(1e-2, "Adam learning rate of the atoms", low=0, low_open=True),
        "infer_iters": ebmbench.Param(10, "FISTA iterations per training batch (warm-started)", low=1),
        "warm_start": ebmbench.Param(True, "start FISTA at each training point's previous code"),
        "resample_dead": ebmbench.Param(True, "restart atoms unused by the batch's codes"),
    }

    def train(self, model, data, ctx):
        from ebmbench_plugins.models._latent_nets import fista

        g = ctx.generator("sparse-coding")
        y_all, val = data.train.y, data.val.y
        opt = torch.optim.Adam([model.W], lr=self.p["lr"])
        # each training point keeps its last code: the dictionary moves slowly, so FISTA
        # started there needs a fraction of the iterations of a cold start
        codes = torch.zeros(len(y_all), model.W.shape[1], device=y_all.device, dtype=y_all.dtype)
        steps = ctx.profile.train_steps
        log_every = max(1, steps // 50)  # each log runs FISTA on a validation probe
        for step in range(steps):
            idx = ctx.minibatch(len(y_all), ctx.profile.batch_size, g)
            y = y_all[idx]
            r = y - model.mean
            z0 = codes[idx] if self.p["warm_start"] else None
            z, iters = fista(r, model.W.detach(), model.lam, self.p["infer_iters"], model.tol, z0=z0)
            codes[idx] = z
            resid = r - z @ model.W.T
            recon = resid.pow(2).sum(-1).mean()
            loss = recon + model.lam * z.abs().sum(-1).mean()
            opt.zero_grad(set_to_none=True)
            recon.backward()  # the L1 term does not depend on W
            gnorm = torch.nn.utils.clip_grad_norm_([model.W], float("inf"))
            opt.step()
            model.normalise_atoms()
            dead = (z.abs().sum(0) == 0).nonzero().flatten()
            if self.p["resample_dead"] and dead.numel() and step < steps - 1:
                with torch.no_grad():
                    pick = torch.randint(0, y.shape[0], (dead.numel(),), generator=g, device=y.device)
                    model.W[:, dead] = resid.detach()[pick].T
                    model.W[:, dead] += 1e-3 * torch.randn(model.W[:, dead].shape, generator=g, device=y.device)
                    model.normalise_atoms()
            if step % log_every == 0 or step == steps - 1:
                probe = val[:256]
                with torch.no_grad():
                    val_f = float(model(probe).mean())
                ctx.log(
                    step,
                    loss=loss.item(),
                    reconstruction_error=recon.item(),
                    val_free_energy=val_f,
                    sparsity=float((z != 0).float().mean()),
                    fista_iters=iters,
                    dead_atoms=dead.numel(),
                    grad_norm=gnorm.item(),
                    energy_gap=ctx.noise_gap(model, probe),
                )
        model.fit_prior(y_all)  # each atom's code marginal: the decode sampler's prior

    def sampler(self):
        # the model's generative story (plugins/samplers/decode.py), not a chain on F at T = 1
        return "decode", {}


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(SparseCoding)
