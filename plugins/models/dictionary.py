"""Sparse-coding model: E(y, z) = ||y - mu - W z||^2 + lam ||z||_1 (docs/science.md §2)."""

from __future__ import annotations

import math

import ebmbench

__all__ = ["Dictionary", "auto_lambda"]


def auto_lambda(y) -> float:
    """Mairal et al. 2009 use lam = 1.2 / sqrt(m) for unit-norm m-dim signals; scaled by
    the RMS norm of the centred data so the same sparsity results on any data scale
    (the energy is quadratic in y, the penalty linear in z ~ |y|)."""
    r = y - y.mean(0)
    return 1.2 / math.sqrt(y.shape[1]) * float(r.pow(2).sum(1).mean().sqrt())


class Dictionary(ebmbench.Model):
    name = "dictionary"
    family = "dictionary"
    inverse_temperature_param = "beta"  # the report sweeps metrics over it
    kinds = frozenset({"unconditional"})
    latent = True
    summary = "sparse coding: ||y - mu - W z||^2 + lam ||z||_1, unit-norm atoms, z by FISTA"
    reference = "Olshausen & Field 1996; Beck & Teboulle 2009 (FISTA); Mairal et al. 2009"
    params = {
        "k": ebmbench.Param(0, "number of atoms (0 = 2 x dim, at least 8: overcomplete)", low=0),
        "lam": ebmbench.Param(-1.0, "L1 weight (-1 = 1.2/sqrt(dim) x RMS norm of the data)", low=-1),
        "beta": ebmbench.Param(math.inf, "inverse temperature of the free energy (inf = F_inf)", low=1e-6),
        "iters": ebmbench.Param(100, "FISTA iterations at most per inference", low=1),
    }

    def build(self, task, data, generator):
        import torch

        from ebmbench_plugins.models._latent_nets import DictionaryEnergy

        y = data.train.y
        k = self.p["k"] or max(8, 2 * y.shape[1])
        lam = self.p["lam"] if self.p["lam"] >= 0 else auto_lambda(y)
        # atoms start at random centred training points (a common, data-scaled init)
        idx = torch.randint(0, y.shape[0], (k,), generator=generator).to(y.device)
        atoms = (y[idx] - y.mean(0)).T
        atoms = atoms + 1e-3 * torch.randn(atoms.shape, generator=generator).to(y.device)  # no zero atoms
        model = DictionaryEnergy(y.mean(0), atoms, lam, beta=self.p["beta"], iters=self.p["iters"])
        model.normalise_atoms()
        return model


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(Dictionary)
