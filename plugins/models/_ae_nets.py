"""The autoencoder energy module (imported only when the model is built)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ebmbench_plugins.models._nets import ACTIVATIONS

__all__ = ["AutoencoderEnergy"]


def _mlp(d_in, hidden, d_out, depth, activation):
    layers, width = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
        width = hidden
    layers.append(nn.Linear(width, d_out))
    return nn.Sequential(*layers)


class AutoencoderEnergy(nn.Module):
    """E(y) = ||y - dec(enc(y))||^2, or E(x, y) = ||y - dec(enc(y, x), x)||^2 (data units).

    Inputs are standardised with the training split's statistics; the decoder's output
    is mapped back to data units, so the energy is a plain squared reconstruction error.
    The encoder also reads a mask indicator per coordinate of y: a masked coordinate
    enters as 0 (the training mean) with indicator 1, which tells a true mean value
    from a hidden one. The masked autoencoder uses it; the energy itself masks nothing.
    Conditional models give x to both encoder and decoder, so the latent code only has
    to carry how y varies given x (for `horn`, the angle on the ellipse).
    """

    def __init__(
        self, y_mean, y_std, x_mean=None, x_std=None, hidden=128, latent=2, depth=2, activation="silu", generator=None
    ):
        super().__init__()
        self.register_buffer("y_mean", y_mean)
        self.register_buffer("y_std", y_std)
        self.conditional = x_mean is not None
        dx = 0
        if self.conditional:
            self.register_buffer("x_mean", x_mean)
            self.register_buffer("x_std", x_std)
            dx = x_mean.numel()
        dy = y_mean.numel()
        self.encoder = _mlp(2 * dy + dx, hidden, latent, depth, activation)
        self.decoder = _mlp(latent + dx, hidden, dy, depth, activation)
        if generator is not None:  # deterministic init without touching the global RNG
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    bound = 1 / math.sqrt(m.in_features)
                    with torch.no_grad():
                        m.weight.copy_(torch.rand(m.weight.shape, generator=generator) * 2 * bound - bound)
                        m.bias.copy_(torch.rand(m.bias.shape, generator=generator) * 2 * bound - bound)

    def _x(self, x):
        return (x - self.x_mean) / self.x_std

    def encode(self, y, x=None, mask=None):
        h = (y - self.y_mean) / self.y_std
        m = torch.zeros_like(h) if mask is None else mask.to(h.dtype)
        parts = [h * (1 - m), m] + ([self._x(x)] if self.conditional else [])
        return self.encoder(torch.cat(parts, dim=1))

    def decode(self, z, x=None):
        parts = [z] + ([self._x(x)] if self.conditional else [])
        return self.y_mean + self.y_std * self.decoder(torch.cat(parts, dim=1))

    def reconstruct(self, y, x=None, mask=None):
        """dec(enc(y)) in data units; `mask` (bool/0-1, shape of y) hides coordinates."""
        return self.decode(self.encode(y, x, mask), x)

    def forward(self, y, x=None):
        return (y - self.reconstruct(y, x)).pow(2).sum(-1)
