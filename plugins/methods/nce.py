"""Noise-contrastive estimation (Gutmann & Hyvärinen 2010), docs/science.md §2.

The model is log p_model(y) = -E(y) - c with a learned scalar log-normaliser c. A
logistic classifier with logit G(y) = log p_model(y) - log q(y) - log nu separates
data from nu times as many noise draws of a known density q:

    J = -E_data[log sigmoid(G)] - nu E_q[log(1 - sigmoid(G))]

(the noise term normalised per data point, as in the paper). At the optimum p_model
is the data density and c its log-partition function. Noise q is fitted to the
training y: one Gaussian with the data's mean and covariance, or a Gaussian mixture
(scikit-learn's EM); `scale` widens it, since q must cover the data's support.

Conditional tasks: the data are pairs (x, y) and the noise pairs (x, y') with y' ~ q
independent of x. The classifier then estimates p(y | x) / q(y), whose log-normaliser
c(x) depends on x — the energy network takes x and absorbs it, so the scalar c only
carries the mean.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

from ebmbench_plugins.methods._fit import fit

torch = lazy_import("torch")

__all__ = ["NCE", "GaussianNoise", "fit_noise", "nce_loss"]


class GaussianNoise:
    """A mixture of full-covariance Gaussians with seeded sampling and exact log-density."""

    def __init__(self, weights, means, covs):
        self.log_w = torch.log(weights)
        self.means = means
        self.chol = torch.linalg.cholesky(covs)  # [K, d, d]
        eye = torch.eye(covs.shape[-1], dtype=covs.dtype, device=covs.device).expand_as(covs)
        self.chol_inv = torch.linalg.solve_triangular(self.chol, eye, upper=False)  # whitening maps
        d = means.shape[1]
        log_det = 2 * torch.log(torch.diagonal(self.chol, dim1=1, dim2=2)).sum(-1)
        self.log_norm = -0.5 * (d * math.log(2 * math.pi) + log_det)  # [K]

    def sample(self, n, generator):
        k = torch.multinomial(self.log_w.exp(), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], generator=generator, device=self.means.device)
        return self.means[k] + (self.chol[k] @ eps[:, :, None]).squeeze(-1)

    def log_prob(self, y):
        z = torch.einsum("kij,bkj->bki", self.chol_inv, y[:, None, :] - self.means[None])  # [B, K, d]
        return torch.logsumexp(self.log_w + self.log_norm - 0.5 * z.pow(2).sum(-1), dim=1)


def fit_noise(y, kind: str, components: int, scale: float, generator) -> GaussianNoise:
    """q fitted to the data y: its Gaussian (mean, covariance), or a k-component GMM.

    A ridge of 1e-3 times the mean variance keeps the covariance invertible when y has
    constant coordinates (border pixels of digits); `scale` multiplies every std.
    """
    y64 = y.detach().double().cpu()
    d = y64.shape[1]
    ridge = 1e-3 * float(y64.var(0).mean()) + 1e-12
    if kind == "gaussian":
        weights = torch.ones(1, dtype=torch.float64)
        means = y64.mean(0, keepdim=True)
        covs = torch.cov(y64.T).reshape(1, d, d)
    else:
        from sklearn.mixture import GaussianMixture

        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        gmm = GaussianMixture(components, covariance_type="full", reg_covar=ridge, random_state=seed)
        gmm.fit(y64.numpy())
        weights, means, covs = (torch.from_numpy(a) for a in (gmm.weights_, gmm.means_, gmm.covariances_))
    covs = (covs + ridge * torch.eye(d, dtype=torch.float64)) * scale**2
    return GaussianNoise(*(t.to(y.device, torch.float32) for t in (weights, means, covs)))


def nce_loss(model, log_c, y, x, noise: GaussianNoise, nu: int, generator):
    """The NCE objective for one batch; diagnostics: classification accuracy, energy gap."""
    y_noise = noise.sample(nu * y.shape[0], generator)
    x_noise = None if x is None else x.repeat(nu, 1)
    log_nu = math.log(nu)
    g_data = -model(y, x) - log_c - noise.log_prob(y) - log_nu
    e_noise = model(y_noise, x_noise)
    g_noise = -e_noise - log_c - noise.log_prob(y_noise) - log_nu
    # -log sigmoid(G) = softplus(-G); -log(1 - sigmoid(G)) = softplus(G)
    loss = torch.nn.functional.softplus(-g_data).mean() + nu * torch.nn.functional.softplus(g_noise).mean()
    with torch.no_grad():
        correct = (g_data > 0).float().sum() + (g_noise < 0).float().sum()
        accuracy = correct / (g_data.numel() + g_noise.numel())
        e_data = -(g_data + log_c + noise.log_prob(y) + log_nu)
        gap = e_noise.mean() - e_data.mean()
    return loss, {"accuracy": accuracy, "energy_gap": gap, "log_normaliser": log_c.detach()}


class NCE(ebmbench.Method):
    name = "nce"
    family = "contrastive"
    summary = "noise-contrastive estimation: logistic data-vs-noise classifier, learned log-normaliser"
    reference = (
        "Gutmann & Hyvärinen 2010, "
        "Noise-contrastive estimation: A new estimation principle for unnormalized statistical models"
    )
    params = {
        "noise": ebmbench.Param("gaussian", "noise law fitted to the data", choices=("gaussian", "mixture")),
        "components": ebmbench.Param(8, "mixture components (noise=mixture)", low=1),
        "scale": ebmbench.Param(1.0, "multiplies the noise std (wider noise covers the support)", low=1e-3),
        "nu": ebmbench.Param(1, "noise draws per data point (the paper's ratio nu)", low=1),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0, low_open=True),
    }

    def train(self, model, data, ctx):
        g = ctx.generator("nce-noise")
        noise = fit_noise(data.train.y, self.p["noise"], self.p["components"], self.p["scale"], g)
        # Start c where the model (E ~ 0 at init) and the noise agree on average.
        with torch.no_grad():
            probe = noise.sample(1024, g)
            c0 = -noise.log_prob(probe).mean() - math.log(self.p["nu"])
        log_c = torch.nn.Parameter(torch.zeros((), device=data.train.y.device) + c0)
        nu = self.p["nu"]
        fit(
            model,
            data,
            ctx,
            lambda m, y, x, gen, step: nce_loss(m, log_c, y, x, noise, nu, gen),
            lr=self.p["lr"],
            purpose="nce",
            extra_params=[log_c],
        )
        self.log_normaliser = log_c.item()


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(NCE)
