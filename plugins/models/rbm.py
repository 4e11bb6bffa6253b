"""Binary RBM model for data in [0, 1] (binarised at 0.5 inside the module).

Conditional tasks whose condition x is also in [0, 1] (digits-inpaint: the top half
of the image; digits-classify: the image, with y the one-hot class) get an RBM over
the joint [x, y] and F(x, y) = F([x, y]) — generative training of the joint, as in
Hinton's classification RBMs (Larochelle & Bengio 2008).
"""

from __future__ import annotations

import ebmbench

__all__ = ["RBM"]


class RBM(ebmbench.Model):
    name = "rbm"
    family = "rbm"
    inverse_temperature_param = "beta"  # the report sweeps metrics over it
    latent = True
    summary = "binary RBM, F(v) = -b.v - sum softplus(c + W^T v); inputs thresholded at 0.5"
    reference = "Smolensky 1986; Hinton 2002 (CD); Hinton 2010, A Practical Guide to Training RBMs"
    params = {
        "hidden": ebmbench.Param(128, "number of binary hidden units", low=1),
        "binarize": ebmbench.Param(True, "threshold inputs at 0.5 (straight-through gradient)"),
        "beta": ebmbench.Param(
            1.0, "inverse temperature of the free energy (inf = min over h)", low=1e-6, finite=False
        ),
    }

    def compatible(self, task):
        lo = min(d[0] for d in task.domain)
        hi = max(d[1] for d in task.domain)
        if lo < 0 or hi > 1:
            return f"model {self.name} needs binary data in [0, 1]; {task.name}'s domain is [{lo:g}, {hi:g}]"
        return super().compatible(task)

    def build(self, task, data, generator):
        import torch

        from ebmbench_plugins.models._rbm_net import RBMEnergy

        y, x = data.train.y, data.train.x
        n_cond = 0
        if x is not None:
            if float(x.min()) < 0 or float(x.max()) > 1:
                raise ValueError(f"model {self.name} needs the condition x of {task.name} in [0, 1]")
            y, n_cond = torch.cat([x, y], dim=1), x.shape[1]
        v = (y > 0.5).float() if self.p["binarize"] else y
        return RBMEnergy(
            y.shape[1],
            self.p["hidden"],
            v.mean(0).cpu(),
            binarize=self.p["binarize"],
            beta=self.p["beta"],
            n_cond=n_cond,
            generator=generator,
        ).to(y.device)


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(RBM)
