"""Autoencoder model family: the energy is the reconstruction error (docs/science.md §2).

E(y) = ||y - dec(enc(y))||^2; for conditional tasks E(x, y) = ||y - dec(enc(y, x), x)||^2.
Low energy is limited by the bottleneck and by how the model is trained (denoising,
masking: see plugins/methods/autoencoders.py). Methods that need a decoder match on
family "autoencoder"; the module also offers `reconstruct(y, x, mask)`.
"""

from __future__ import annotations

import ebmbench
from ebmbench_plugins.models.mlp import robust_std

__all__ = ["Autoencoder", "auto_latent"]


def auto_latent(dim: int) -> int:
    """Default bottleneck: a quarter of dim(y), between 1 and 16 (2-D -> 1, 64-D -> 16)."""
    return max(1, min(16, dim // 4))


class Autoencoder(ebmbench.Model):
    name = "autoencoder"
    family = "autoencoder"
    summary = "energy = squared reconstruction error ||y - dec(enc([y, x]))||^2 of an MLP autoencoder"
    reference = "LeCun et al. 2006 (autoencoder energies); Vincent et al. 2008/2010 (denoising autoencoders)"
    params = {
        "hidden": ebmbench.Param(128, "hidden width of encoder and decoder", low=1),
        "latent": ebmbench.Param(-1, "bottleneck size; -1 = dim(y)//4 clipped to [1, 16]", low=-1),
        "depth": ebmbench.Param(2, "hidden layers of encoder and of decoder", low=1, high=16),
        "activation": ebmbench.Param("silu", "non-linearity", choices=("silu", "softplus", "elu", "tanh")),
    }

    def compatible(self, task):
        if self.p["latent"] == 0:
            return "autoencoder needs latent >= 1 (or -1 for the default)"
        return super().compatible(task)

    def build(self, task, data, generator):
        from ebmbench_plugins.models._ae_nets import AutoencoderEnergy

        y, x = data.train.y, data.train.x
        kw = {}
        if task.kind == "conditional":
            kw = {"x_mean": x.mean(0), "x_std": robust_std(x)}
        latent = self.p["latent"] if self.p["latent"] > 0 else auto_latent(task.dim)
        return AutoencoderEnergy(
            y.mean(0),
            robust_std(y),
            hidden=self.p["hidden"],
            latent=latent,
            depth=self.p["depth"],
            activation=self.p["activation"],
            generator=generator,
            **kw,
        )


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(Autoencoder)
