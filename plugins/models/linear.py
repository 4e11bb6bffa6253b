"""PCA / linear-autoencoder model: zero energy on a learned k-dim affine subspace (docs/science.md §2)."""

from __future__ import annotations

import math

import ebmbench

__all__ = ["Linear", "auto_components"]


def auto_components(y, variance: float) -> int:
    """Smallest k whose principal components explain `variance` of the training data,
    capped at dim - 1 so the subspace is a proper one (else every y has zero energy)."""
    import torch

    s2 = torch.linalg.svdvals((y - y.mean(0)).double()).pow(2)
    ratio = torch.cumsum(s2, 0) / s2.sum().clamp_min(1e-300)
    k = int((ratio < variance).sum()) + 1
    return max(1, min(k, y.shape[1] - 1))


class Linear(ebmbench.Model):
    name = "linear"
    family = "linear"
    inverse_temperature_param = "beta"  # the report sweeps metrics over it
    kinds = frozenset({"unconditional"})
    latent = True
    summary = "E(y, z) = ||y - mu - W z||^2, z in R^k; F_inf = squared distance to the subspace"
    reference = "Pearson 1901 / Hotelling 1933 (PCA); Baldi & Hornik 1989 (linear autoencoders)"
    params = {
        "k": ebmbench.Param(0, "subspace dimension (0 = explain `variance` of the data)", low=0),
        "variance": ebmbench.Param(0.9, "explained-variance target when k = 0", low=0, high=1),
        "beta": ebmbench.Param(math.inf, "inverse temperature of the free energy (inf = F_inf)", low=1e-6),
    }

    def compatible(self, task):
        if task.dim < 2:
            return f"model {self.name} needs dim >= 2 (a proper subspace), {task.name} has dim {task.dim}"
        return super().compatible(task)

    def build(self, task, data, generator):
        import torch

        from ebmbench_plugins.models._latent_nets import LinearSubspaceEnergy

        y = data.train.y
        k = self.p["k"] or auto_components(y, self.p["variance"])
        k = min(k, y.shape[1])
        # a random orthonormal basis: the method fits it (SVD or autoencoder descent)
        basis = torch.linalg.qr(torch.randn(y.shape[1], k, generator=generator))[0]
        return LinearSubspaceEnergy(y.mean(0), basis.to(y.device, y.dtype), beta=self.p["beta"])


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(Linear)
