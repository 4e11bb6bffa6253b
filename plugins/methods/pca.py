"""PCA / linear autoencoder: fit the zero-energy subspace of a `linear` model (docs/science.md §2).

Architectural: nothing is pushed up. The k-dim affine subspace mu + span(W) has zero
energy and E grows quadratically away from it, so the low-energy volume is limited
by k alone.

* `solver=svd` (default): mu = the training mean, W = the top-k right singular
  vectors of the centred training data (Eckart-Young: the subspace minimising the
  mean F_inf of the data).
* `solver=ae`: a linear autoencoder y -> mu + W V^T (y - mu) trained by Adam on the
  reconstruction error; its decoder spans the same principal subspace at the
  optimum (Baldi & Hornik 1989), and the energy uses exact inference (least squares
  onto span(W)), so an imperfect encoder only slows training down.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["PCA", "pca_basis"]


def pca_basis(y, k):
    """(mean, top-k principal directions [D, k], singular values) in float64 for accuracy."""
    y64 = y.double()
    mean = y64.mean(0)
    _, s, vh = torch.linalg.svd(y64 - mean, full_matrices=False)
    return mean, vh[:k].T, s


class PCA(ebmbench.Method):
    name = "pca"
    family = "architectural"
    model_families = frozenset({"linear"})
    task_kinds = frozenset({"unconditional"})
    summary = "principal subspace by SVD (or a linear autoencoder by Adam); E = squared distance to it"
    reference = "Pearson 1901; Hotelling 1933; Baldi & Hornik 1989 (linear autoencoder optimum = PCA)"
    params = {
        "solver": ebmbench.Param(
            "svd", "closed form, or a linear autoencoder by gradient descent", choices=("svd", "ae")
        ),
        "lr": ebmbench.Param(1e-2, "Adam learning rate (solver=ae)", low=0, low_open=True),
    }

    def train(self, model, data, ctx):
        y = data.train.y
        k = model.W.shape[1]
        mean, basis, s = pca_basis(y, k)
        total = float(s.pow(2).sum())
        if self.p["solver"] == "svd":
            with torch.no_grad():
                model.mean.copy_(mean.to(y.dtype))
                model.W.copy_(basis.to(y.dtype))
            self._log(ctx, model, data, 0, total, s)
        else:
            self._train_ae(model, data, ctx, total, s)
        model.fit_prior(y)  # the Gaussian of the training codes: the decode sampler's prior

    def _log(self, ctx, model, data, step, total, s, **extra):
        y, val = data.train.y, data.val.y
        with torch.no_grad():
            loss = float(model(y).mean())
            val_err = float(model(val).mean())
        k = model.W.shape[1]
        optimum = float(s[k:].pow(2).sum()) / y.shape[0]  # Eckart-Young: the best mean F_inf
        ctx.log(
            step,
            loss=loss,
            reconstruction_error=val_err,
            explained_variance=1 - loss * y.shape[0] / total,
            excess_loss=loss - optimum,
            energy_gap=ctx.noise_gap(model, val),
            **extra,
        )

    def _train_ae(self, model, data, ctx, total, s):
        g = ctx.generator("pca-ae")
        y = data.train.y
        with torch.no_grad():
            model.mean.copy_(y.mean(0))
        # encoder V starts at the decoder's (random orthonormal) init: y -> W V^T (y - mu)
        enc = torch.nn.Parameter(model.W.detach().clone())
        params = [model.W, enc]
        opt = torch.optim.Adam(params, lr=self.p["lr"])
        steps = ctx.profile.train_steps
        log_every = max(1, steps // 100)
        for step in range(steps):
            r = y[ctx.minibatch(len(y), ctx.profile.batch_size, g)] - model.mean
            ae = (r - (r @ enc) @ model.W.T).pow(2).sum(-1).mean()
            opt.zero_grad(set_to_none=True)
            ae.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(params, float("inf"))
            opt.step()
            if step % log_every == 0 or step == steps - 1:
                self._log(ctx, model, data, step, total, s, ae_loss=ae.item(), grad_norm=gnorm.item())

    def sampler(self):
        # the model's generative story (plugins/samplers/decode.py), not a chain on F at T = 1
        return "decode", {}


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(PCA)
