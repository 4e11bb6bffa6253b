"""Denoising and masked autoencoders: energy = reconstruction error (docs/science.md §2).

Both train a model of family "autoencoder" (plugins/models/autoencoder.py), whose
energy is E(y) = ||y - dec(enc(y))||^2 on the clean, unmasked input. Training
corrupts the input and asks for the clean one back, so the reconstruction map
learns to pull points toward the data (for small Gaussian noise r(y) - y is
proportional to the score, Alain & Bengio 2014) and the energy is low near the data
and grows off it; the bottleneck keeps r from being the identity everywhere.

* `dae` (Vincent et al. 2008): y~ = y + sigma * std * N(0, I), with sigma relative to
  each coordinate's training std (so one default fits tasks of any scale); loss
  ||y - r(y~)||^2.
* `mae` (BERT, Devlin et al. 2019; MAE, He et al. 2022): hide k random coordinates of
  each row; the encoder sees them as 0 plus a mask indicator. Loss: squared error on
  the hidden coordinates plus `visible_weight` times that on the visible ones — the
  emphasised denoising autoencoder of Vincent et al. 2010. MAE itself uses
  visible_weight = 0 and a fixed k = round(ratio * d) (`variable=False`); but the
  energy scores the *unmasked* input, which a fixed ratio never shows the network
  (measured on digits: the clean-input reconstruction error ends above its value at
  initialisation). So by default each row's k is uniform on {0, ..., round(ratio * d)}
  — variable-ratio masking as in MaskGIT (Chang et al. 2022) — which puts the
  unmasked input at the end of the training range, and visible coordinates get
  weight 0.5.

Diagnostics: `recon_error` (the energy of the clean batch, i.e. mean squared
reconstruction error per row), and the corrupted-input error against its baseline
(DAE: the noisy input itself; MAE: the hidden coordinates filled with the mean).
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

from ebmbench_plugins.methods._fit import fit

torch = lazy_import("torch")

__all__ = ["DAE", "MAE", "random_masks", "dae_loss", "mae_loss"]


def dae_loss(model, y, x, scale, generator):
    """||y - r(y + scale * N(0, I))||^2 per row, mean over rows; `scale` is a per-coordinate std."""
    noisy = y + scale * torch.randn(y.shape, generator=generator, device=y.device)
    err = (model.reconstruct(noisy, x) - y).pow(2).sum(-1)
    with torch.no_grad():
        baseline = (noisy - y).pow(2).sum(-1).mean()
        recon = model(y, x).mean()
    return err.mean(), {"denoise_error": err.mean().detach(), "noisy_baseline": baseline, "recon_error": recon}


def random_masks(n, d, ratio, generator, device=None, variable=False):
    """Boolean [n, d]: each row hides k random coordinates, k = round(ratio * d) clipped to
    [1, d - 1] (d > 1); with `variable`, each row's k is uniform on {0, ..., that k}."""
    k_max = min(max(1, round(ratio * d)), max(1, d - 1))
    if variable:
        k = torch.randint(0, k_max + 1, (n, 1), generator=generator, device=device)
    else:
        k = torch.full((n, 1), k_max, device=device)
    order = torch.rand(n, d, generator=generator, device=device).argsort(dim=1)
    return order < k  # a random permutation's entries below k sit at k random positions


def mae_loss(model, y, x, ratio, visible_weight, generator, variable=True):
    mask = random_masks(y.shape[0], y.shape[1], ratio, generator, y.device, variable)
    err = (model.reconstruct(y, x, mask) - y).pow(2)
    m = mask.to(y.dtype)
    hidden = (err * m).sum(-1)
    loss = (hidden + visible_weight * (err * (1 - m)).sum(-1)).mean()
    with torch.no_grad():
        mean_fill = ((y - model.y_mean).pow(2) * m).sum(-1).mean()  # hidden coordinates := training mean
        recon = model(y, x).mean()
    return loss, {"masked_error": hidden.mean().detach(), "mean_fill_baseline": mean_fill, "recon_error": recon}


class _AutoencoderMethod(ebmbench.Method):
    family = "contrastive"
    model_families = frozenset({"autoencoder"})


class DAE(_AutoencoderMethod):
    name = "dae"
    summary = "denoising autoencoder: reconstruct clean y from y + Gaussian noise; energy = reconstruction error"
    reference = (
        "Vincent, Larochelle, Bengio & Manzagol 2008, "
        "Extracting and Composing Robust Features with Denoising Autoencoders"
    )
    params = {
        # Vincent et al. use noise of 10-50 % of the input range; relative to each coordinate's
        # std, 0.5 perturbs without mixing the modes of the toy tasks.
        "sigma": ebmbench.Param(0.5, "noise std in units of each coordinate's training std", low=0, low_open=True),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0, low_open=True),
    }

    def train(self, model, data, ctx):
        from ebmbench_plugins.models.autoencoder import robust_std

        scale = self.p["sigma"] * robust_std(data.train.y)
        fit(model, data, ctx, lambda m, y, x, g, step: dae_loss(m, y, x, scale, g), lr=self.p["lr"], purpose="dae")


class MAE(_AutoencoderMethod):
    name = "mae"
    summary = (
        "masked autoencoder (BERT-style): hide a fraction of coordinates, reconstruct them; "
        "energy = reconstruction error"
    )
    reference = "He et al. 2022, Masked Autoencoders Are Scalable Vision Learners; Devlin et al. 2019 (BERT)"
    params = {
        "ratio": ebmbench.Param(
            0.75, "fraction of coordinates hidden per example (MAE: 0.75, BERT: 0.15)", low=0, high=1
        ),
        "visible_weight": ebmbench.Param(
            0.5, "loss weight of visible coordinates (MAE: 0; Vincent 2010's beta)", low=0
        ),
        "variable": ebmbench.Param(
            True,
            "draw each row's hidden count uniformly in {0, ..., ratio * d} "
            "(so the unmasked input, which the energy scores, is in training)",
        ),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0, low_open=True),
    }

    def train(self, model, data, ctx):
        ratio, weight, variable = self.p["ratio"], self.p["visible_weight"], self.p["variable"]
        fit(
            model,
            data,
            ctx,
            lambda m, y, x, g, step: mae_loss(m, y, x, ratio, weight, g, variable),
            lr=self.p["lr"],
            purpose="mae",
        )


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(DAE)
    register(MAE)
