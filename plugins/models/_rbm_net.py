"""Binary restricted Boltzmann machine (Smolensky 1986; Hinton 2002).

E(v, h) = -b^T v - c^T h - v^T W h with v in {0,1}^D, h in {0,1}^H. Summing out h:
F(v) = -b^T v - sum_j softplus(c_j + W_j^T v), and at inverse temperature beta
F_beta(v) = -b^T v - (1/beta) sum_j softplus(beta (c_j + W_j^T v)), whose beta -> inf
limit is min_h E(v, h) = -b^T v - sum_j relu(c_j + W_j^T v).

Binarisation: the digits task gives pixels in [0, 1]; this module thresholds its input
at 0.5 (`binarize=True`) so every energy is the binary RBM's free energy of the
binarised image — the distribution it was trained on. The threshold passes the
gradient straight through (Bengio et al. 2013), so gradient-based inference on y
(inpainting, projection) still sees the slope of the free energy's multilinear
extension.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["RBMEnergy", "bernoulli"]


def bernoulli(p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)


class RBMEnergy(nn.Module):
    """Binary RBM over v = [x, y] (x: the `n_cond` leading units, absent for unconditional
    tasks). A conditional task's F(x, y) is the joint free energy F([x, y]): inference of
    y given x (inpainting, classification by argmin_c F(x, c)) and Gibbs sampling with x
    clamped both follow from the joint model."""

    def __init__(self, n_visible, n_hidden, visible_mean=None, binarize=True, beta=1.0, n_cond=0, generator=None):
        super().__init__()
        # Hinton 2010 (A Practical Guide to Training RBMs, §8): W ~ N(0, 0.01^2), hidden
        # biases 0, visible biases log(p / (1 - p)) of the training pixel means.
        self.W = nn.Parameter(torch.randn(n_visible, n_hidden, generator=generator) * 0.01)
        if visible_mean is None:
            b = torch.zeros(n_visible)
        else:
            p = visible_mean.clamp(1e-3, 1 - 1e-3)
            b = torch.log(p / (1 - p))
        self.b = nn.Parameter(b.float())
        self.c = nn.Parameter(torch.zeros(n_hidden))
        self.binarize, self.beta, self.n_cond = binarize, beta, n_cond

    def _binary(self, u):
        if not self.binarize:
            return u
        hard = (u > 0.5).to(u.dtype)
        return u + (hard - u).detach()  # value of the threshold, gradient of the identity

    def visible_input(self, y, x=None):
        """The visible vector [x, y], thresholded at 0.5 when `binarize`."""
        v = y if self.n_cond == 0 else torch.cat([x, y], dim=1)
        return self._binary(v)

    def hidden_input(self, v):
        return v @ self.W + self.c

    def hidden_probs(self, v, beta=1.0):
        return torch.sigmoid(beta * self.hidden_input(v))

    def visible_probs(self, h, beta=1.0):
        return torch.sigmoid(beta * (h @ self.W.T + self.b))

    def gibbs_step(self, v, generator, beta=1.0, clamp=None):
        """One block-Gibbs sweep v -> h -> v' (returns v', h). `clamp` [B, n_cond] fixes x."""
        h = bernoulli(self.hidden_probs(v, beta), generator)
        v = bernoulli(self.visible_probs(h, beta), generator)
        if clamp is not None:
            v = torch.cat([clamp, v[:, clamp.shape[1] :]], dim=1)
        return v, h

    def joint_energy(self, v, h):
        return -(v @ self.b) - (h @ self.c) - ((v @ self.W) * h).sum(-1)

    def joint_free_energy(self, v, beta=None):
        beta = self.beta if beta is None else beta
        a = self.hidden_input(v)
        if math.isinf(beta):
            return -(v @ self.b) - F.relu(a).sum(-1)
        return -(v @ self.b) - F.softplus(beta * a).sum(-1) / beta

    def latent_energy(self, y, z, x=None):
        """E(v, h) with the hidden configuration h as the latent z."""
        return self.joint_energy(self.visible_input(y, x), z)

    def free_energy(self, y, x=None, beta=None):
        return self.joint_free_energy(self.visible_input(y, x), beta)

    def forward(self, y, x=None):
        return self.free_energy(y, x)
