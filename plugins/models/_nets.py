"""Torch modules behind the model plugins (imported only when a model is built)."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["MLPEnergy", "PrototypeEnergy"]

ACTIVATIONS = {"silu": nn.SiLU, "softplus": nn.Softplus, "elu": nn.ELU, "tanh": nn.Tanh}


class MLPEnergy(nn.Module):
    """F(y) or F(x, y) = MLP([standardised y, standardised x]) -> scalar.

    Inputs are standardised with the training split's mean and std (buffers, so
    they travel with the module), which keeps one architecture usable on tasks of
    different scales. Smooth activations: score-based losses differentiate twice.
    """

    def __init__(self, y_mean, y_std, x_mean=None, x_std=None, hidden=128, depth=2, activation="silu", generator=None):
        super().__init__()
        self.register_buffer("y_mean", y_mean)
        self.register_buffer("y_std", y_std)
        self.conditional = x_mean is not None
        if self.conditional:
            self.register_buffer("x_mean", x_mean)
            self.register_buffer("x_std", x_std)
        d_in = y_mean.numel() + (x_mean.numel() if self.conditional else 0)
        layers, width = [], d_in
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        if generator is not None:  # deterministic init without touching the global RNG
            for m in self.net:
                if isinstance(m, nn.Linear):
                    bound = 1 / math.sqrt(m.in_features)
                    with torch.no_grad():
                        m.weight.copy_(torch.rand(m.weight.shape, generator=generator) * 2 * bound - bound)
                        m.bias.copy_(torch.rand(m.bias.shape, generator=generator) * 2 * bound - bound)

    def forward(self, y, x=None):
        h = (y - self.y_mean) / self.y_std
        if self.conditional:
            h = torch.cat([h, (x - self.x_mean) / self.x_std], dim=1)
        return self.net(h).squeeze(-1)


class PrototypeEnergy(nn.Module):
    """K-means as a latent EBM: E(y, z) = ||y - W z||^2 with z one-hot over k prototypes.

    forward gives the free energy: F_inf(y) = min_k ||y - w_k||^2 when beta is inf,
    else F_beta(y) = -(1/beta) log (1/k) sum_k exp(-beta ||y - w_k||^2) (a soft-min).
    """

    def __init__(self, prototypes, beta=math.inf):
        super().__init__()
        self.W = nn.Parameter(prototypes.clone())
        self.beta = beta

    def distances(self, y):
        return torch.cdist(y, self.W).pow(2)  # [B, k]

    def latent_set(self):
        """The finite set of latents: the k one-hot vectors (rows)."""
        return torch.eye(self.W.shape[0], device=self.W.device)

    def decode(self, x, z):
        return z @ self.W

    def energies(self, y, x=None):
        """E(y, z) for every z of the latent set: [B, k]."""
        return (y[:, None, :] - self.W[None]).pow(2).sum(-1)

    def latent_energy(self, y, z, x=None):
        return (y - z @ self.W).pow(2).sum(-1)

    def free_energy(self, y, x=None, beta=None):
        # uniform prior over the k prototypes (the -log k), so F_beta >= F_inf -> F_inf
        beta = self.beta if beta is None else beta
        d = self.distances(y)
        if math.isinf(beta):
            return d.min(dim=1).values
        return -(torch.logsumexp(-beta * d, dim=1) - math.log(d.shape[1])) / beta

    def forward(self, y, x=None):
        return self.free_energy(y)
