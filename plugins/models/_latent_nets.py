"""Torch modules of the architectural latent-variable EBMs (docs/science.md §1-§2).

Every module here is a latent EBM E(y, z) [, x] with the shared interface

* `latent_energy(y, z, x=None) -> [B]`: the energy of one latent per row;
* `free_energy(y, x=None, beta=None) -> [B]`: F_inf = min_z E for beta = inf,
  else F_beta = -(1/beta) log ∫ exp(-beta E(y, z)) dmu(z), mu the model's latent measure;
* `forward(y, x=None)`: the free energy at the model's own `beta`.

Modules: `LinearSubspaceEnergy` (PCA / linear autoencoder), `DictionaryEnergy`
(sparse coding with FISTA inference), `LatentGridEnergy` (the horn model, z on a grid
of angles).

The first two also tell their generative story (`generate(n, generator, beta=None)`, the
protocol of the `decode` sampler): z from a latent prior fitted to the training codes by
`fit_prior(y)` (the methods call it after training), decoded, plus the Gaussian noise
y | z ~ exp(-beta ||y - D(z)||^2) normalised = N(D(z), I / (2 beta)), none at beta = inf.
The prior is fitted because the energy's own latent measure gives nothing usable: the
Lebesgue measure of PCA's z is improper, and sparse coding's exp(-beta lam |z|_1) is a
point mass at z = 0 at the default beta = inf. So the draws follow the model's decoder
and noise, with the codes' distribution in place of the measure F_beta integrates over.

Inference of z never builds an autograd graph: by Danskin's (envelope) theorem
grad_y min_z E(y, z) = grad_y E(y, z*) with z* held fixed, so forward solves
for z* without gradients and evaluates E(y, z*) with them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ebmbench_plugins.models._nets import gaussian_noise

__all__ = [
    "LinearSubspaceEnergy",
    "DictionaryEnergy",
    "LatentGridEnergy",
    "fista",
    "softmin",
    "importance_free_energy",
    "require_prior",
    "gaussian_root",
]


def softmin(energies: torch.Tensor, beta: float) -> torch.Tensor:
    """F over a finite, uniformly weighted latent set: min for beta = inf, else
    -(1/beta) log mean_k exp(-beta E_k). The mean (a normalised prior) keeps F_beta >= F_inf
    and makes F_beta -> F_inf as beta grows."""
    if math.isinf(beta):
        return energies.min(dim=-1).values
    k = energies.shape[-1]
    return -(torch.logsumexp(-beta * energies, dim=-1) - math.log(k)) / beta


def importance_free_energy(latent_energy, y, draw, m, beta, max_rows=65536):
    """Monte-Carlo F_beta = -(1/beta) log E_q[exp(-beta E(y, z)) p(z) / q(z)].

    `draw(i, n) -> (z [n, B, k], log_w0 [n, B])` gives proposal draws i..i+n-1 and their
    log p(z) - log q(z) (p = 1 for the Lebesgue measure); draws come in chunks so memory
    stays O(chunk B k) and Python overhead low. Jensen makes the estimate slightly high
    on average; it is consistent in m.
    """
    b = y.shape[0]
    chunk = max(1, min(64, max_rows // max(1, b)))  # bounded memory for the energies' graph
    logw = []
    for i in range(0, m, chunk):
        n = min(chunk, m - i)
        z, log_w0 = draw(i, n)
        e = latent_energy(y.repeat(n, 1), z.reshape(n * b, -1)).view(n, b)
        logw.append(-beta * e + log_w0)
    return -(torch.logsumexp(torch.cat(logw), dim=0) - math.log(m)) / beta


def require_prior(module, model_name: str) -> None:
    """Raise unless `fit_prior` stored a latent prior (buffer `prior_n` = codes fitted on)."""
    if float(module.prior_n) <= 0:
        raise RuntimeError(
            f"{model_name} model has no fitted latent prior: its method must call fit_prior(train_y) "
            "after training (the built-in methods do)"
        )


def gaussian_root(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, R) of the ML Gaussian fitted to the rows of z, with R R^T its covariance
    (symmetric square root by eigh, in float64: unlike Cholesky it allows a singular
    covariance, e.g. more latent dimensions than codes span)."""
    z = z.double()
    mean = z.mean(0)
    cov = (z - mean).T @ (z - mean) / z.shape[0]
    evals, evecs = torch.linalg.eigh(cov)
    return mean, (evecs * evals.clamp_min(0).sqrt()) @ evecs.T


# --------------------------------------------------------------------- PCA / linear AE
class LinearSubspaceEnergy(nn.Module):
    """E(y, z) = ||y - mu - W z||^2, z in R^k: zero energy on a k-dim affine subspace.

    F_inf(y) is the squared distance of y to the subspace mu + span(W) (least squares,
    through an orthonormal basis from QR, so W need not be orthonormal — a linear
    autoencoder's decoder reaches the same subspace as PCA, Baldi & Hornik 1989).
    F_beta has a closed form (a Gaussian integral over z):
    F_beta = F_inf - k/(2 beta) log(pi / beta) + 1/(2 beta) log det(W^T W).

    Generative story: z ~ N(m, S), the Gaussian fitted to the training codes (for PCA by
    SVD, m = 0 and S = diag(s_j^2 / n), the explained variances), y = mu + W z + noise of
    variance 1/(2 beta) per coordinate. This is probabilistic PCA (Tipping & Bishop 1999)
    with the noise set by the model's beta rather than fitted (the ML noise, the mean
    discarded eigenvalue, is beta = 1 / (2 sigma^2)): covariance W S W^T + I / (2 beta).
    """

    def __init__(self, mean: torch.Tensor, basis: torch.Tensor, beta: float = math.inf):
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.W = nn.Parameter(basis.clone())  # [D, k]
        self.beta = beta
        k = basis.shape[1]
        self.register_buffer("z_mean", torch.zeros(k, dtype=basis.dtype))
        self.register_buffer("z_root", torch.zeros(k, k, dtype=basis.dtype))  # R R^T = the codes' covariance
        self.register_buffer("prior_n", torch.zeros((), dtype=basis.dtype))  # codes fitted on (0 = none)

    @property
    def k(self) -> int:
        return self.W.shape[1]

    def _q(self):
        return torch.linalg.qr(self.W, mode="reduced")[0]  # [D, k] orthonormal columns

    def encode(self, y, x=None):
        """argmin_z E(y, z): least-squares coordinates of y - mu on the columns of W."""
        return torch.linalg.lstsq(self.W, (y - self.mean).T).solution.T

    def reconstruct(self, y, x=None):
        q = self._q()
        r = y - self.mean
        return self.mean + (r @ q) @ q.T

    def latent_energy(self, y, z, x=None):
        return (y - self.mean - z @ self.W.T).pow(2).sum(-1)

    def free_energy(self, y, x=None, beta=None):
        beta = self.beta if beta is None else beta
        r = y - self.mean
        q = self._q()
        f_inf = (r - (r @ q) @ q.T).pow(2).sum(-1)
        if math.isinf(beta):
            return f_inf
        logdet = torch.linalg.slogdet(self.W.T @ self.W)[1]
        return f_inf - self.k / (2 * beta) * math.log(math.pi / beta) + logdet / (2 * beta)

    def forward(self, y, x=None):
        return self.free_energy(y, x)

    @torch.no_grad()
    def fit_prior(self, y):
        """The ML Gaussian of the codes z* = encode(y) of the training rows y."""
        mean, root = gaussian_root(self.encode(y))
        self.z_mean.copy_(mean)
        self.z_root.copy_(root)
        self.prior_n.fill_(y.shape[0])

    @torch.no_grad()
    def generate(self, n, generator, beta=None):
        """n draws of N(mu + W m, W S W^T + I / (2 beta)) by ancestral sampling (class doc)."""
        require_prior(self, "linear")
        eps = torch.randn(n, self.k, generator=generator, device=self.W.device, dtype=self.W.dtype)
        z = self.z_mean + eps @ self.z_root.T
        return gaussian_noise(self.mean + z @ self.W.detach().T, self.beta if beta is None else beta, generator)


# ------------------------------------------------------------------------ sparse coding
@torch.no_grad()
def fista(
    r: torch.Tensor,
    W: torch.Tensor,
    lam: float,
    iters: int = 100,
    tol: float = 1e-6,
    z0: torch.Tensor | None = None,
    check_every: int = 10,
) -> tuple[torch.Tensor, int]:
    """argmin_z ||r - W z||^2 + lam ||z||_1 for each row of r (Beck & Teboulle 2009).

    Step 1/L with L = 2 sigma_max(W)^2, the Lipschitz constant of the smooth part's
    gradient. Every `check_every` iterations (a check costs a device sync) it stops if
    no coefficient moved by more than tol (relative to the largest coefficient).
    Returns (z [B, k], iterations used).
    """
    lip = float(2 * torch.linalg.matrix_norm(W, ord=2).pow(2).clamp_min(1e-12))
    z = torch.zeros(r.shape[0], W.shape[1], dtype=r.dtype, device=r.device) if z0 is None else z0.clone()
    v, t = z.clone(), 1.0
    # v - grad / L with grad = 2 (v W^T W - r W): one matmul per iteration
    gram = torch.eye(W.shape[1], dtype=W.dtype, device=W.device) - (2 / lip) * (W.T @ W)
    shift = (2 / lip) * (r @ W)
    it = 0
    for it in range(1, iters + 1):
        z_new = torch.nn.functional.softshrink(torch.addmm(shift, v, gram), lam / lip)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        v = z_new + ((t - 1) / t_new) * (z_new - z)
        if it % check_every == 0 and float((z_new - z).abs().max()) <= tol * max(1.0, float(z_new.abs().max())):
            z = z_new
            break
        z, t = z_new, t_new
    return z, it


class DictionaryEnergy(nn.Module):
    """Sparse coding: E(y, z) = ||y - mu - W z||^2 + lam ||z||_1 with unit-norm atoms W[:, j].

    F_inf(y) = min_z E(y, z) by FISTA (then evaluated with gradients at the fixed z*).
    F_beta over z in R^k (Lebesgue measure) by importance sampling from a product of
    Laplace densities centred at z*, with widths matched to the posterior's curvature
    (quadratic part) and its L1 tails, so the weights have finite variance.

    Generative story: independent atoms, each z_j = 0 with the probability that the
    training codes have it at 0, else Laplace(0, b_j) with b_j the ML scale (the mean |z_j|)
    of their non-zero values — a spike-and-slab fit to each atom's code marginal, since
    FISTA's codes are exactly sparse and a plain Laplace would make every atom active;
    then y = mu + W z + noise of variance 1/(2 beta) per coordinate. (The energy's own
    prior, exp(-beta lam |z|_1) = Laplace(0, 1/(beta lam)), is a point mass at z = 0 for the
    default beta = inf, every draw the mean.)
    """

    def __init__(self, mean, atoms, lam, beta=math.inf, iters=100, tol=1e-5, n_mc=256):
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.W = nn.Parameter(atoms.clone())  # [D, k]
        self.lam, self.beta, self.iters, self.tol, self.n_mc = float(lam), beta, iters, tol, n_mc
        k = atoms.shape[1]
        self.register_buffer("z_active", torch.zeros(k, dtype=atoms.dtype))  # P(z_j != 0)
        self.register_buffer("z_scale", torch.zeros(k, dtype=atoms.dtype))  # Laplace scale of non-zero z_j
        self.register_buffer("prior_n", torch.zeros((), dtype=atoms.dtype))  # codes fitted on (0 = none)

    @torch.no_grad()
    def normalise_atoms(self):
        self.W.div_(self.W.norm(dim=0, keepdim=True).clamp_min(1e-8))

    def encode(self, y, x=None, iters=None, tol=None):
        """z* = argmin_z E(y, z) (no gradient)."""
        return fista(
            (y - self.mean).detach(), self.W.detach(), self.lam, iters or self.iters, self.tol if tol is None else tol
        )[0]

    def latent_energy(self, y, z, x=None):
        return (y - self.mean - z @ self.W.T).pow(2).sum(-1) + self.lam * z.abs().sum(-1)

    def free_energy(self, y, x=None, beta=None):
        beta = self.beta if beta is None else beta
        z = self.encode(y)
        if math.isinf(beta):
            return self.latent_energy(y, z)
        g = torch.Generator(device=y.device).manual_seed(0)  # a fixed quadrature rule, not a global draw
        with torch.no_grad():
            col2 = self.W.pow(2).sum(0)  # the quadratic part's curvature along z_j is 2 beta |w_j|^2
            b = torch.maximum(1 / torch.sqrt(2 * beta * col2), torch.full_like(col2, 1 / (beta * max(self.lam, 1e-12))))
            log_norm = torch.log(2 * b).sum()

        @torch.no_grad()
        def draw(_, n):
            u = torch.rand((n, *z.shape), generator=g, device=y.device, dtype=y.dtype) - 0.5
            mag = torch.log1p(-2 * u.abs().clamp(max=0.5 - 1e-7))
            delta = -b * torch.sign(u) * mag  # Laplace(0, b) by inversion
            return z + delta, (delta.abs() / b).sum(-1) + log_norm  # = -log q(z)

        return importance_free_energy(self.latent_energy, y, draw, self.n_mc, beta)

    def forward(self, y, x=None):
        return self.free_energy(y, x)

    @torch.no_grad()
    def fit_prior(self, y):
        """Per atom: the fraction of non-zero codes z* = encode(y) and the ML Laplace scale
        (mean absolute value) of those non-zero codes."""
        z = self.encode(y)
        active = z != 0
        count = active.sum(0)
        self.z_active.copy_(count / z.shape[0])
        self.z_scale.copy_(z.abs().sum(0) / count.clamp_min(1))
        self.prior_n.fill_(y.shape[0])

    @torch.no_grad()
    def generate(self, n, generator, beta=None):
        """n ancestral draws of the spike-and-slab codes, decoded, plus noise (class doc)."""
        require_prior(self, "dictionary")
        shape, kw = (n, self.W.shape[1]), {"generator": generator, "device": self.W.device, "dtype": self.W.dtype}
        on = torch.rand(shape, **kw) < self.z_active
        u = torch.rand(shape, **kw) - 0.5
        laplace = -torch.sign(u) * torch.log1p(-2 * u.abs().clamp(max=0.5 - 1e-7))  # Laplace(0, 1) by inversion
        z = torch.where(on, self.z_scale * laplace, torch.zeros_like(laplace))
        return gaussian_noise(self.mean + z @ self.W.detach().T, self.beta if beta is None else beta, generator)


# ------------------------------------------------------------------ latent grid (horn)
class LatentGridEnergy(nn.Module):
    """E(x, y, z) = sum_i (y_i - f_i(x) g_i(z))^2, z on a grid of K angles in [0, 2 pi).

    f is an MLP of the standardised x with 2 outputs scaled by the RMS of y; g(z) is
    (cos z, sin z) ("fixed") or a learned table initialised there ("learned"). z is
    one-hot over the grid; `energies(y, x)` gives all K energies at once.
    """

    def __init__(self, x_mean, x_std, y_scale, grid=64, hidden=64, learned_g=False, beta=math.inf, generator=None):
        super().__init__()
        self.register_buffer("x_mean", x_mean.clone())
        self.register_buffer("x_std", x_std.clone())
        self.register_buffer("y_scale", y_scale.clone())
        angles = torch.arange(grid, dtype=torch.float32) * (2 * math.pi / grid)
        self.register_buffer("angles", angles)
        g0 = torch.stack([torch.cos(angles), torch.sin(angles)], 1)
        if learned_g:
            self.g = nn.Parameter(g0)
        else:
            self.register_buffer("g", g0)
        d_in = x_mean.numel()
        self.f = nn.Sequential(
            nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, y_scale.numel())
        )
        self.beta = beta
        if generator is not None:  # deterministic init from the cell's generator (PyTorch's default bounds)
            with torch.no_grad():
                for m in self.f:
                    if isinstance(m, nn.Linear):
                        bound = 1 / math.sqrt(m.in_features)
                        m.weight.copy_(torch.rand(m.weight.shape, generator=generator) * 2 * bound - bound)
                        m.bias.copy_(torch.rand(m.bias.shape, generator=generator) * 2 * bound - bound)

    def radii(self, x):
        return self.f((x - self.x_mean) / self.x_std) * self.y_scale  # [B, 2]

    def latent_set(self):
        return torch.eye(self.g.shape[0], device=self.g.device)

    def decode(self, x, z):
        """f(x) * g(z) for one-hot (or soft) z [B, K]."""
        return self.radii(x) * (z @ self.g)

    def latent_energy(self, y, z, x=None):
        return (y - self.decode(x, z)).pow(2).sum(-1)

    def energies(self, y, x=None):
        pred = self.radii(x)[:, None, :] * self.g[None]  # [B, K, 2]
        return (y[:, None, :] - pred).pow(2).sum(-1)

    def free_energy(self, y, x=None, beta=None):
        return softmin(self.energies(y, x), self.beta if beta is None else beta)

    def forward(self, y, x=None):
        return self.free_energy(y, x)
