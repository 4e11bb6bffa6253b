"""K-means prototype model: a latent-variable EBM with one-hot z (docs/science.md §2)."""

from __future__ import annotations

import math

import ebmbench


class Prototypes(ebmbench.Model):
    name = "kmeans"
    family = "prototype"
    inverse_temperature_param = "beta"  # the report sweeps metrics over it
    kinds = frozenset({"unconditional"})
    latent = True
    summary = "E(y, z) = ||y - W z||^2, z one-hot over k prototypes; F_inf = distance to nearest"
    reference = "LeCun et al. 2006, A Tutorial on Energy-Based Learning, §K-means"
    params = {
        "k": ebmbench.Param(8, "number of prototypes", low=1),
        "beta": ebmbench.Param(math.inf, "inverse temperature of the free energy (inf = F_inf)", low=1e-6),
    }

    def build(self, task, data, generator):
        import torch

        from ebmbench_plugins.models._nets import PrototypeEnergy

        y = data.train.y
        idx = torch.randperm(y.shape[0], generator=generator)[: self.p["k"]]
        return PrototypeEnergy(y[idx.to(y.device)], beta=self.p["beta"])


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(Prototypes)
