"""GLO as a latent EBM: a decoder D and one learned latent per training sample.

Bojanowski et al. 2018 ("Optimizing the Latent Space of Generative Networks") learn
D and codes z_i jointly by reconstruction, projecting every z_i back onto the unit
sphere. As an EBM: E(y, z) = ||y - D(z / ||z||)||^2 and the energy of a new y is
F_inf(y) = min_{|z|=1} E(y, z), found by projected gradient descent on z from several
starts (the codes of the training points whose reconstructions are nearest to y).

F_beta uses the uniform (normalised) measure on the sphere. Because E depends on the
direction of z only, that integral equals the one over z ~ N(0, I_d) in R^d, so it is
estimated by importance sampling with exact Gaussian densities: a proposal mixing the
prior with Gaussians around sqrt(d) z* at several angular widths and around the codes of
the nearest training reconstructions. F_beta >= F_inf and F_beta -> F_inf as beta grows;
the estimate's error shrinks like 1/sqrt(n_mc) (see the tests for measured accuracy).

Generative story (`generate`, the `decode` sampler's protocol): as Bojanowski et al. 2018
sample GLO, z from the full-covariance Gaussian fitted to the learned training codes
(`fit_prior`, called by the method after training), projected onto the sphere by D's
input, plus the noise y | z ~ exp(-beta ||y - D(z)||^2) normalised = N(D(z), I / (2 beta)),
none at beta = inf. The uniform measure that F_beta integrates over is not used: the
codes fill only part of the sphere, and the rest decodes off the data.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ebmbench_plugins.models._latent_nets import gaussian_root, importance_free_energy, require_prior
from ebmbench_plugins.models._nets import gaussian_noise

__all__ = ["GLOEnergy", "project_sphere"]


def project_sphere(z: torch.Tensor) -> torch.Tensor:
    return z / z.norm(dim=-1, keepdim=True).clamp_min(1e-8)


class GLOEnergy(nn.Module):
    def __init__(
        self,
        y_mean,
        y_std,
        codes,
        hidden=128,
        beta=math.inf,
        infer_steps=0,
        starts=2,
        infer_lr=0.0,
        n_mc=512,
        bank_size=1024,
        generator=None,
    ):
        super().__init__()
        self.register_buffer("y_mean", y_mean.clone())
        self.register_buffer("y_std", y_std.clone())
        self.codes = nn.Parameter(project_sphere(codes.clone()))  # [N, d], one per training point
        d, out = codes.shape[1], y_mean.numel()
        self.decoder = nn.Sequential(
            nn.Linear(d, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, out)
        )
        # Inference budget, measured against dense or 8-start, 200-step solutions: on the
        # sphere S^{d-1} from nearest-code starts, Adam needs larger and more steps as d
        # grows; a step of 0.025 d and min(20, 2 d) steps leave a mean gap of ~1e-4 of
        # F_inf for d = 2 (8gaussians) and ~1e-2 for d = 16 (digits).
        d = codes.shape[1]
        self.infer_steps = infer_steps if infer_steps > 0 else min(20, 2 * d)
        self.infer_lr = infer_lr if infer_lr > 0 else 0.025 * d
        self.beta, self.starts, self.n_mc = beta, starts, n_mc
        self.bank_size = bank_size
        self._bank = None  # (parameter versions, decoded training codes)
        self.register_buffer("prior_mean", torch.zeros(d))
        self.register_buffer("prior_root", torch.zeros(d, d))  # R R^T = the codes' covariance
        self.register_buffer("prior_n", torch.zeros(()))  # codes fitted on (0 = none)
        if generator is not None:  # deterministic init from the cell's generator (PyTorch's default bounds)
            with torch.no_grad():
                for m in self.decoder:
                    if isinstance(m, nn.Linear):
                        bound = 1 / math.sqrt(m.in_features)
                        m.weight.copy_(torch.rand(m.weight.shape, generator=generator) * 2 * bound - bound)
                        m.bias.copy_(torch.rand(m.bias.shape, generator=generator) * 2 * bound - bound)

    @property
    def z_dim(self) -> int:
        return self.codes.shape[1]

    def decode(self, z):
        return self.y_mean + self.y_std * self.decoder(project_sphere(z))

    def latent_energy(self, y, z, x=None):
        return (y - self.decode(z)).pow(2).sum(-1)

    @torch.no_grad()
    def project_codes(self):
        self.codes.copy_(project_sphere(self.codes))

    def _decoded_bank(self):
        """(codes, D(codes)) of at most `bank_size` training codes (an evenly strided subset:
        start search costs O(B x bank) per call), recomputed only when a parameter changed."""
        key = tuple((id(p), p._version) for p in self.parameters())  # in-place updates bump _version
        if self._bank is None or self._bank[0] != key:
            stride = max(1, -(-self.codes.shape[0] // self.bank_size))
            with torch.no_grad():
                codes = self.codes[::stride].detach().clone()
                self._bank = (key, codes, self.decode(codes))
        return self._bank[1], self._bank[2]

    def _nearest(self, y, k):
        """Codes [k, B, d] whose reconstructions are nearest to each y, in row blocks
        (a [B, N] distance matrix for a big grid would not fit in memory)."""
        codes, decoded = self._decoded_bank()
        k = min(k, codes.shape[0])
        idx = torch.cat([torch.cdist(blk, decoded).topk(k, dim=1, largest=False).indices for blk in y.split(1024)])
        return codes[idx.T]

    def infer(self, y):
        """z* = argmin over the sphere of E(y, z), best over starts; no graph is kept.

        Starts: the codes of the `starts` training points whose reconstructions are
        nearest to y (deterministic, and already close for y near the data), so a few
        projected Adam steps refine them."""
        y = y.detach()
        b, s = y.shape[0], max(1, min(self.starts, self._decoded_bank()[0].shape[0]))
        with torch.no_grad():
            z = self._nearest(y, s).reshape(-1, self.z_dim)  # start-major: [s * B, d]
        yy = y.repeat(s, 1)
        best_e = torch.full((s * b,), math.inf, device=y.device, dtype=y.dtype)
        best_z = z.clone()
        # projected Adam (scale-free: energies differ by orders of magnitude across tasks),
        # written out because an optimizer object per call costs more than the steps here
        m, v = torch.zeros_like(z), torch.zeros_like(z)
        b1, b2, eps = 0.9, 0.999, 1e-8
        for it in range(self.infer_steps + 1):
            if it == self.infer_steps:  # the last iterate is only scored: no gradient to pay for
                with torch.no_grad():
                    e = self.latent_energy(yy, z)
            else:
                with torch.enable_grad():
                    z.requires_grad_(True)
                    e = self.latent_energy(yy, z)
                    (grad,) = torch.autograd.grad(e.sum(), z)
            with torch.no_grad():
                z = z.detach()
                better = e.detach() < best_e  # keep the best iterate: Adam need not descend monotonically
                best_e = torch.where(better, e.detach(), best_e)
                best_z[better] = z[better]
                if it == self.infer_steps:
                    break
                m.mul_(b1).add_(grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                lr = self.infer_lr * 0.5 * (1 + math.cos(math.pi * it / self.infer_steps))  # cosine decay
                step = lr * (m / (1 - b1 ** (it + 1))) / ((v / (1 - b2 ** (it + 1))).sqrt() + eps)
                z = project_sphere(z - step)
        pick = best_e.view(s, b).argmin(0)
        return best_z.view(s, b, -1)[pick, torch.arange(b, device=y.device)]

    def free_energy(self, y, x=None, beta=None):
        beta = self.beta if beta is None else beta
        z_star = self.infer(y)
        if math.isinf(beta):
            return self.latent_energy(y, z_star)
        d = self.z_dim
        g = torch.Generator(device=y.device).manual_seed(0)  # a fixed quadrature rule
        root = math.sqrt(d)  # typical norm of z ~ N(0, I_d): proposals sit on that shell
        # Proposal components (mean [B, d], std): around z* at angular widths 0.5, 0.125, ...
        # down to ~ the posterior width at this beta; around the codes of the nearest
        # training reconstructions (other low-energy arcs of the decoder's image).
        comps = []
        w = 0.5
        while True:
            comps.append((root * z_star, root * w))
            if w <= 0.05 / math.sqrt(beta) or len(comps) >= 8:
                break
            w /= 4
        with torch.no_grad():
            near = self._nearest(y, 8)  # [K, B, d]
        for code in near:
            comps.append((root * code, root * 0.25))
        # Half the draws come from the N(0, I) prior itself: at small beta most of the
        # integral lies away from z*, and the prior's share bounds every weight p/q by 2.

        means = torch.stack([mu for mu, _ in comps])  # [C, B, d]
        stds = torch.tensor([sd for _, sd in comps], device=y.device, dtype=y.dtype)  # [C]
        log_c = -d * torch.log(stds) - d / 2 * math.log(2 * math.pi)

        def draw(i, n):
            with torch.no_grad():
                # stratified: even draws from the prior, odd ones cycle over the local components
                j = torch.arange(i, i + n, device=y.device)
                prior = (j % 2 == 0)[:, None, None]
                c = (j // 2) % len(comps)
                noise = torch.randn((n, *z_star.shape), generator=g, device=y.device, dtype=y.dtype)
                z = torch.where(prior, noise, means[c] + stds[c][:, None, None] * noise)
                log_p = -z.pow(2).sum(-1) / 2 - d / 2 * math.log(2 * math.pi)  # [n, B]
                sq = (z[:, None] - means[None]).pow(2).sum(-1)  # [n, C, B]
                local = torch.logsumexp(-sq / (2 * stds[:, None] ** 2) + log_c[:, None], 1) - math.log(len(comps))
                log_q = torch.logaddexp(log_p, local) - math.log(2)
                return z, log_p - log_q

        m = 2 * len(comps) * max(1, self.n_mc // (2 * len(comps)))
        return importance_free_energy(self.latent_energy, y, draw, m, beta)

    def forward(self, y, x=None):
        return self.free_energy(y, x)

    @torch.no_grad()
    def fit_prior(self, y=None):
        """The ML full-covariance Gaussian of the learned codes (one per training point:
        y is not needed, and only its row count is checked)."""
        if y is not None and y.shape[0] != self.codes.shape[0]:
            raise ValueError(f"GLO holds {self.codes.shape[0]} codes, got {y.shape[0]} training rows")
        mean, root = gaussian_root(project_sphere(self.codes.detach()))
        self.prior_mean.copy_(mean)
        self.prior_root.copy_(root)
        self.prior_n.fill_(self.codes.shape[0])

    @torch.no_grad()
    def generate(self, n, generator, beta=None):
        """n draws: z ~ N(m, R R^T), y = D(z / |z|) plus noise of variance 1/(2 beta)."""
        require_prior(self, "glo")
        eps = torch.randn(n, self.z_dim, generator=generator, device=self.codes.device, dtype=self.codes.dtype)
        z = self.prior_mean + eps @ self.prior_root.T
        return gaussian_noise(self.decode(z), self.beta if beta is None else beta, generator)
