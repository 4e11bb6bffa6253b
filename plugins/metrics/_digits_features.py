"""The digits feature extractor behind `fid_digits`: a 64-128-64-10 ReLU MLP classifier.

FID needs a feature space in which image statistics mean something; Inception is far
too big for 8x8 digits, so (as docs/science.md §4 says) a small classifier trained on the
digits train split stands in. Its penultimate layer (64 ReLU units) gives the features.

Training is deterministic: a fixed seed drives the initialisation (uniform
+-1/sqrt(fan_in), as torch.nn.Linear) and the minibatch order; full-precision Adam,
no dropout. The weights are plain tensors — no nn.Module — and are stored with
`ebmbench.cache.cached_arrays` as .npz arrays (never pickle), keyed by this file's
source hash, so every run on every machine scores samples in the same features.
Held-out accuracy is stored alongside (a check that the features are meaningful).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["digits_classifier", "digits_features", "digits_logits", "digits_train_split", "SEED", "LAYERS"]

SEED = 20240607  # fixed: the extractor must not depend on a run's seed
LAYERS = (64, 128, 64, 10)
EPOCHS, BATCH, LR, WEIGHT_DECAY = 60, 64, 1e-3, 1e-4
_memo: dict[str, "torch.Tensor"] = {}


def digits_train_split():
    """(train images [n, 64] in [0, 1], labels, held-out images, labels), float32/int64."""
    from ebmbench_plugins.tasks.digits import digits_split

    return digits_split()


def _init(generator):
    params = {}
    for i, (a, b) in enumerate(zip(LAYERS[:-1], LAYERS[1:])):
        bound = 1 / a**0.5
        params[f"w{i}"] = (torch.rand(a, b, generator=generator, dtype=torch.float32) * 2 - 1) * bound
        params[f"b{i}"] = (torch.rand(b, generator=generator, dtype=torch.float32) * 2 - 1) * bound
    return params


def _forward(params, y, upto: int):
    """Activations after layer `upto` (0-based; the last layer has no ReLU)."""
    h = y
    last = len(LAYERS) - 2
    for i in range(upto + 1):
        h = h @ params[f"w{i}"] + params[f"b{i}"]
        if i < last:
            h = torch.relu(h)
    return h


def _train() -> dict:
    y, labels, y_out, labels_out = digits_train_split()
    g = torch.Generator().manual_seed(SEED)
    params = {k: v.requires_grad_(True) for k, v in _init(g).items()}
    opt = torch.optim.Adam(params.values(), lr=LR, weight_decay=WEIGHT_DECAY)
    n = y.shape[0]
    for _ in range(EPOCHS):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, BATCH):
            idx = perm[i : i + BATCH]
            loss = torch.nn.functional.cross_entropy(_forward(params, y[idx], len(LAYERS) - 2), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = (_forward(params, y, len(LAYERS) - 2).argmax(1) == labels).float().mean()
        acc_out = (_forward(params, y_out, len(LAYERS) - 2).argmax(1) == labels_out).float().mean()
    out = {k: v.detach().numpy() for k, v in params.items()}
    out.update(train_accuracy=acc.numpy(), heldout_accuracy=acc_out.numpy())
    return out


def _version() -> str:
    """Hash of this file and of the split's source: a change in either retrains."""
    from ebmbench_plugins.tasks import digits as task_module

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(Path(task_module.__file__).read_bytes())
    return h.hexdigest()[:16]


def digits_classifier() -> dict:
    """The trained weights (float32 tensors) plus train/held-out accuracy, cached."""
    if not _memo:
        from ebmbench.cache import cached_arrays

        arrays = cached_arrays("digits-mlp-64-128-64-10", _train, _version())
        _memo.update({k: torch.from_numpy(v) for k, v in arrays.items()})
    return _memo


def _apply(y, upto: int, chunk: int = 4096):
    params = digits_classifier()
    y = torch.as_tensor(y).float().cpu()
    with torch.no_grad():
        return torch.cat([_forward(params, y[i : i + chunk], upto) for i in range(0, y.shape[0], chunk)])


def digits_features(y):
    """Penultimate-layer (64-d, post-ReLU) features of images y [n, 64] in [0, 1]."""
    return _apply(y, len(LAYERS) - 3)


def digits_logits(y):
    return _apply(y, len(LAYERS) - 2)
