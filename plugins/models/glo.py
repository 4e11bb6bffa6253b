"""GLO model: a decoder and one learned latent (on the unit sphere) per training point."""

from __future__ import annotations

import math

import ebmbench

__all__ = ["GLO"]


class GLO(ebmbench.Model):
    name = "glo"
    family = "glo"
    inverse_temperature_param = "beta"  # the report sweeps metrics over it
    kinds = frozenset({"unconditional"})
    latent = True
    summary = "E(y, z) = ||y - D(z)||^2, |z| = 1; F_inf by projected descent on z from several starts"
    reference = "Bojanowski et al. 2018, Optimizing the Latent Space of Generative Networks (GLO)"
    params = {
        "z_dim": ebmbench.Param(0, "latent dimension (0 = max(2, dim // 4))", low=0),
        "hidden": ebmbench.Param(128, "decoder width (2 hidden layers)", low=1),
        "init": ebmbench.Param("pca", "initial codes", choices=("pca", "random")),
        "beta": ebmbench.Param(math.inf, "inverse temperature of the free energy (inf = F_inf)", low=1e-6),
        "infer_steps": ebmbench.Param(0, "projected Adam steps on z per inference (0 = min(20, 2 z_dim))", low=0),
        "starts": ebmbench.Param(2, "starts per inference: codes of the nearest reconstructions", low=1),
    }

    def build(self, task, data, generator):
        import torch

        from ebmbench_plugins.models._glo_net import GLOEnergy

        y = data.train.y
        d = self.p["z_dim"] or max(2, y.shape[1] // 4)
        if self.p["init"] == "pca":  # the GLO paper's initialisation: PCA coordinates, projected
            r = (y - y.mean(0)).double()
            _, _, vh = torch.linalg.svd(r, full_matrices=False)
            codes = (r @ vh[:d].T).float()
            if codes.shape[1] < d:  # more latent than data dimensions: pad with noise
                pad = 0.1 * torch.randn(y.shape[0], d - codes.shape[1], generator=generator).to(y.device)
                codes = torch.cat([codes, pad], 1)
            codes = codes + 1e-3 * torch.randn(codes.shape, generator=generator).to(y.device)
        else:
            codes = torch.randn(y.shape[0], d, generator=generator).to(y.device)
        return GLOEnergy(
            y.mean(0),
            y.std(0).clamp_min(1e-6),
            codes,
            hidden=self.p["hidden"],
            beta=self.p["beta"],
            infer_steps=self.p["infer_steps"],
            starts=self.p["starts"],
            generator=generator,
        )


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(GLO)
