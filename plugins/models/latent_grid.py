"""Latent-grid model for conditional 2-D tasks (the `horn`): z on a grid of angles."""

from __future__ import annotations

import math

import ebmbench

__all__ = ["LatentGrid"]


class LatentGrid(ebmbench.Model):
    name = "latent_grid"
    family = "latent_grid"
    inverse_temperature_param = "beta"  # the report sweeps metrics over it
    kinds = frozenset({"conditional"})
    latent = True
    summary = "E(x, y, z) = sum_i (y_i - f_i(x) g_i(z))^2, z on K angles; F_inf = min, F_beta = soft-min"
    reference = "LeCun & Canziani, NYU Deep Learning 2020, latent-variable EBM lecture (horn example)"
    params = {
        "grid": ebmbench.Param(64, "number of angles z_k = 2 pi k / K", low=1),
        "hidden": ebmbench.Param(64, "width of the MLP f(x) (2 hidden layers)", low=1),
        "g": ebmbench.Param(
            "fixed", "g(z) = (cos z, sin z), or a learned table started there", choices=("fixed", "learned")
        ),
        "beta": ebmbench.Param(math.inf, "inverse temperature: inf = F_inf (min over z), else F_beta", low=1e-6),
    }

    def compatible(self, task):
        if task.dim != 2:
            return f"model {self.name} decodes 2-D y (g(z) = (cos z, sin z)); {task.name} has dim {task.dim}"
        return super().compatible(task)

    def build(self, task, data, generator):
        from ebmbench_plugins.models._latent_nets import LatentGridEnergy

        x, y = data.train.x, data.train.y
        # f(x) outputs radii in units of y's RMS size per coordinate (zero-mean angles)
        y_scale = y.pow(2).mean(0).sqrt().clamp_min(1e-6)
        return LatentGridEnergy(
            x.mean(0),
            x.std(0).clamp_min(1e-6),
            y_scale,
            grid=self.p["grid"],
            hidden=self.p["hidden"],
            learned_g=self.p["g"] == "learned",
            beta=self.p["beta"],
            generator=generator,
        ).to(y.device)


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(LatentGrid)
