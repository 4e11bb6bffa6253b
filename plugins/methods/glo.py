"""GLO: learn a decoder and one latent per training point by reconstruction.

Bojanowski et al. 2018: minimise sum_i ||y_i - D(z_i)||^2 jointly over the decoder
and the codes z_i, projecting every code back onto the unit sphere after each step
(the paper's constraint; without it codes could grow to absorb the decoder's scale).
The paper uses SGD with a larger step on the codes than on the network; here Adam
with separate rates. Architectural: the energy min_z ||y - D(z)||^2 is zero only on
the decoder's image, a manifold of dimension z_dim - 1.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["GLOMethod"]


class GLOMethod(ebmbench.Method):
    name = "glo"
    family = "architectural"
    model_families = frozenset({"glo"})
    task_kinds = frozenset({"unconditional"})
    summary = "decoder + a learned latent per training sample, projected to the sphere; L2 reconstruction"
    reference = "Bojanowski et al. 2018, Optimizing the Latent Space of Generative Networks"
    params = {
        "lr": ebmbench.Param(1e-3, "Adam learning rate of the decoder", low=0, low_open=True),
        "code_lr": ebmbench.Param(1e-2, "Adam learning rate of the per-sample codes", low=0, low_open=True),
    }

    def train(self, model, data, ctx):
        g = ctx.generator("glo")
        y_all, val = data.train.y, data.val.y
        if model.codes.shape[0] != len(y_all):
            raise ValueError(f"GLO model has {model.codes.shape[0]} codes for {len(y_all)} training points")
        # SparseAdam on the codes: a code's moments and value change only when its
        # training point is in the batch (dense Adam would keep drifting every code)
        dec_params = list(model.decoder.parameters())
        opt = torch.optim.Adam(dec_params, lr=self.p["lr"])
        opt_codes = torch.optim.SparseAdam([model.codes], lr=self.p["code_lr"])
        steps = ctx.profile.train_steps
        log_every = max(1, steps // 50)  # each log runs an inner descent per probe point
        for step in range(steps):
            idx = ctx.minibatch(len(y_all), ctx.profile.batch_size, g)
            z = torch.nn.functional.embedding(idx, model.codes, sparse=True)
            loss = model.latent_energy(y_all[idx], z).mean()
            opt.zero_grad(set_to_none=True)
            opt_codes.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(dec_params, float("inf"))
            opt.step()
            opt_codes.step()
            model.project_codes()
            if step % log_every == 0 or step == steps - 1:
                probe = val[:128]  # F_inf needs an inner descent: a fixed subset keeps logging cheap
                with torch.no_grad():
                    val_f = float(model(probe).mean())
                ctx.log(
                    step,
                    loss=loss.item(),
                    reconstruction_error=loss.item(),
                    val_free_energy=val_f,
                    grad_norm=gnorm.item(),
                    energy_gap=ctx.noise_gap(model, probe),
                )
        model.fit_prior(y_all)  # the Gaussian of the learned codes (Bojanowski et al. 2018)

    def sampler(self):
        # the model's generative story (plugins/samplers/decode.py), not a chain on F at T = 1
        return "decode", {}


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(GLOMethod)
