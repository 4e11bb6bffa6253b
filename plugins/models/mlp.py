"""MLP energy model for unconditional F(y) and conditional F(x, y) tasks."""

from __future__ import annotations

import ebmbench


class MLP(ebmbench.Model):
    name = "mlp"
    family = "neural"
    summary = "MLP energy on standardised [y, x]; smooth activations, no normalisation layers"
    reference = "the 2-128-128-1 toy-EBM baseline of ebm-anatomy / UvA tutorial 8"
    params = {
        "hidden": ebmbench.Param(128, "hidden width", low=1),
        "depth": ebmbench.Param(2, "hidden layers", low=1, high=16),
        "activation": ebmbench.Param("silu", "non-linearity", choices=("silu", "softplus", "elu", "tanh")),
    }

    def build(self, task, data, generator):
        from ebmbench_plugins.models._nets import MLPEnergy

        y = data.train.y
        x = data.train.x
        kw = {}
        if task.kind == "conditional":
            kw = {"x_mean": x.mean(0), "x_std": x.std(0).clamp_min(1e-6)}
        return MLPEnergy(y.mean(0), y.std(0).clamp_min(1e-6), hidden=self.p["hidden"], depth=self.p["depth"],
                         activation=self.p["activation"], generator=generator, **kw)


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(MLP)
