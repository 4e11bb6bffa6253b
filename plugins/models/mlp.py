"""MLP energy model for unconditional F(y) and conditional F(x, y) tasks."""

from __future__ import annotations

import ebmbench

__all__ = ["MLP", "robust_std"]


def robust_std(t):
    """Per-coordinate std with a floor of 5 % of the mean std.

    Constant coordinates (the border pixels of digits) have std 0; the floor keeps a
    rare non-zero value there from being standardised to a huge input.
    """
    s = t.std(0)
    return s.clamp_min(max(0.05 * float(s.mean()), 1e-6))


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
            kw = {"x_mean": x.mean(0), "x_std": robust_std(x)}
        return MLPEnergy(
            y.mean(0),
            robust_std(y),
            hidden=self.p["hidden"],
            depth=self.p["depth"],
            activation=self.p["activation"],
            generator=generator,
            **kw,
        )


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(MLP)
