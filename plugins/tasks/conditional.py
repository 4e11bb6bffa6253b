"""Conditional multi-modal tasks: y given x lies on a curve, not at a point (primer §5)."""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["Horn"]


class Horn(ebmbench.Task):
    """x ~ U(0,1), theta ~ U[0, 2pi): y = [rho1(x) cos theta, rho2(x) sin theta] + N(0, 0.05^2).

    rho(x) = [a x + b (1-x), b x + a (1-x)] * exp(2x) with a = 1.5, b = 2: for each x
    the answers form an ellipse that grows and turns with x (the "horn").
    """

    name = "horn"
    kind = "conditional"
    dim = 2
    x_dim = 1
    ALPHA, BETA, NOISE = 1.5, 2.0, 0.05
    R1, R2 = ALPHA * math.e**2, BETA * math.e**2  # largest radii, at x = 1
    domain = ((-(R1 + 0.5), R1 + 0.5), (-(R2 + 0.5), R2 + 0.5))
    main_metric = "inference_error"
    ground_truth = frozenset({"sampler", "support_distance"})
    summary = "y | x on an ellipse whose radii grow with x (NYU latent-variable lecture)"
    reference = "LeCun & Canziani, NYU Deep Learning 2020, latent-variable EBM lecture"
    tags = frozenset({"2d", "toy", "multimodal"})

    @classmethod
    def radii(cls, x):
        x = x.reshape(-1, 1).double()
        r = torch.cat([cls.ALPHA * x + cls.BETA * (1 - x), cls.BETA * x + cls.ALPHA * (1 - x)], 1)
        return r * torch.exp(2 * x)

    def sample(self, n, generator, x=None):
        if x is None:
            x = torch.rand(n, 1, generator=generator, dtype=torch.float64)
        theta = torch.rand(n, 1, generator=generator, dtype=torch.float64) * 2 * math.pi
        y = self.radii(x) * torch.cat([torch.cos(theta), torch.sin(theta)], 1)
        y = y + torch.randn(n, 2, generator=generator, dtype=torch.float64) * self.NOISE
        return ebmbench.Split(y.float(), x.float())

    def support_distance(self, y, x=None, n_angles: int = 4096):
        """Distance from y to the noise-free ellipse of its x (dense angular search)."""
        theta = torch.linspace(0, 2 * math.pi, n_angles + 1, dtype=torch.float64, device=y.device)[:-1]
        ring = torch.stack([torch.cos(theta), torch.sin(theta)], 1)  # [A, 2]
        out = []
        for i in range(0, y.shape[0], 256):
            r = self.radii(x[i:i + 256].to(y.device))  # [b, 2]
            curve = r[:, None, :] * ring[None]  # [b, A, 2]
            d = (curve - y[i:i + 256, None, :].double()).norm(dim=-1).min(dim=1).values
            out.append(d)
        return torch.cat(out).to(y.dtype)


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    register(Horn)
