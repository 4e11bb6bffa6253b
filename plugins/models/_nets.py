"""Torch modules behind the model plugins (imported only when a model is built)."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["MLPEnergy", "PrototypeEnergy", "gaussian_noise"]

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

    forward gives the free energy: F_inf(y) = min_k ||y - w_k||^2 when beta is inf, else
    F_beta(y) = -(1/beta) log sum_k pi_k exp(-beta ||y - w_k||^2), a soft-min under the
    prior pi over prototypes (uniform until `fit_prior` stores the training data's cluster
    frequencies; a normalised prior keeps F_beta >= F_inf -> F_inf).

    Generative story (`generate`, the `decode` sampler's protocol): exp(-beta F_beta(y)) =
    sum_k pi_k exp(-beta ||y - w_k||^2) is, up to the constant (pi / beta)^(D/2), the mixture
    sum_k pi_k N(w_k, I / (2 beta)): a prototype k ~ pi, then isotropic Gaussian noise of
    variance 1/(2 beta) per coordinate (none at beta = inf: the prototypes themselves).
    Those draws follow exp(-beta F_beta) exactly, with the same pi as the free energy.
    """

    def __init__(self, prototypes, beta=math.inf):
        super().__init__()
        self.W = nn.Parameter(prototypes.clone())
        self.beta = beta
        k = prototypes.shape[0]
        # log pi, a buffer so it moves and is saved with the model
        self.register_buffer("log_prior", torch.full((k,), -math.log(k), dtype=prototypes.dtype))

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
        beta = self.beta if beta is None else beta
        d = self.distances(y)
        if math.isinf(beta):
            return d.min(dim=1).values
        return -torch.logsumexp(-beta * d + self.log_prior, dim=1) / beta

    def forward(self, y, x=None):
        return self.free_energy(y)

    @torch.no_grad()
    def fit_prior(self, y):
        """pi = the fraction of the rows y nearest to each prototype (the hard-assignment
        M-step of a Gaussian mixture); a cluster without points gets pi = 0."""
        assign = self.distances(y).argmin(1)
        counts = torch.bincount(assign, minlength=self.W.shape[0]).to(self.log_prior.dtype)
        self.log_prior.copy_(torch.log(counts / counts.sum()))

    @torch.no_grad()
    def generate(self, n, generator, beta=None):
        """n draws of sum_k pi_k N(w_k, I / (2 beta)) (see the class doc)."""
        beta = self.beta if beta is None else beta
        k = torch.multinomial(self.log_prior.exp(), n, replacement=True, generator=generator)
        return gaussian_noise(self.W.detach()[k], beta, generator)


def gaussian_noise(mean, beta, generator):
    """y ~ N(mean, I / (2 beta)): the normalised exp(-beta ||y - mean||^2) of every
    squared-error latent energy given its decoded mean (mean itself at beta = inf)."""
    if math.isinf(beta):
        return mean
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + math.sqrt(1 / (2 * beta)) * noise
