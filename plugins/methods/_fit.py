"""The minibatch training loop shared by the loss-based contrastive methods.

DSM, SSM, NCE, the autoencoders and the margin losses differ only in the loss of
one minibatch; the loop around it (sampling the batch, Adam, gradient norm, the
training curve) is the same, so it lives here once. Every method that uses it logs
the same columns: `loss`, `grad_norm`, `noise_gap` (ctx.noise_gap, comparable
across methods) and `energy_gap` — the method's own negatives minus data when it
has negatives (NCE's noise, the margin losses' most offending answers), otherwise
the noise gap — plus its own diagnostics.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["fit", "LossFn"]

# loss_fn(model, y, x, generator, step) -> (scalar loss, {diagnostic name: 0-d tensor or float})
LossFn = Callable[..., "tuple[torch.Tensor, dict[str, Any]]"]


def fit(
    model,
    data,
    ctx,
    loss_fn: LossFn,
    *,
    lr: float,
    purpose: str,
    extra_params=(),
    betas=(0.9, 0.999),
    pass_index: bool = False,
) -> None:
    """Adam on `loss_fn` over `ctx.profile.train_steps` minibatches (drawn with replacement).

    `extra_params` are trained with the model but are not part of the energy (NCE's
    log-normaliser). With `pass_index`, loss_fn also gets `idx=` (the batch's rows of
    the training split), for losses that precompute per-row tables. Diagnostics are
    converted to floats only on logged steps, so they cost no synchronisation in between.
    """
    g = ctx.generator(purpose)
    params = [p for p in model.parameters() if p.requires_grad] + list(extra_params)
    opt = torch.optim.Adam(params, lr=lr, betas=betas)
    train = data.train
    steps = ctx.profile.train_steps
    log_every = max(1, steps // 100)
    for step in range(steps):
        idx = ctx.minibatch(len(train), ctx.profile.batch_size, g)
        y, x = train.y[idx], None if train.x is None else train.x[idx]
        loss, diag = loss_fn(model, y, x, g, step, idx=idx) if pass_index else loss_fn(model, y, x, g, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, math.inf)  # inf: measure, do not clip
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            noise_gap = ctx.noise_gap(model, y, x)
            values = {k: float(v) for k, v in diag.items()}
            values.setdefault("energy_gap", noise_gap)
            ctx.log(step, loss=loss.item(), grad_norm=gnorm.item(), noise_gap=noise_gap, **values)
