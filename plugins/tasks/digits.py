"""Tasks on scikit-learn's bundled 8x8 digits (1 797 images, no download; docs/science.md §5).

Pixels are the dataset's integers 0..16 divided by 16, so every value is in [0, 1].
The dataset has a fixed size, so `make()` does not draw fresh points: it permutes
the 1 797 images with the generator and cuts the permutation 60 / 20 / 20 %
(1 078 train, 359 val, 360 test images). Profile sizes only cap a split (a profile
asking for fewer points than the split holds gets the first ones of the
permutation); every built-in profile asks for more, so the whole split is used.
There is no true sampler: `sample()` raises, and metrics that need fresh draws of
the true law (ground truth "sampler") do not apply.

* `digits`: unconditional, y = the 64 pixels.
* `digits-inpaint`: conditional, x = the top half (rows 0-3, pixels 0..31), y = the
  bottom half (rows 4-7, pixels 32..63); `reassemble(x, y)` gives the image back.
* `digits-classify`: conditional energy F(x, c), x = the 64 pixels, y = the one-hot
  class (dim 10, the corners of [0, 1]^10); `labels(y)` is the class of a y row
  (argmax), `one_hot(labels)` the inverse, `candidates()` the 10 possible answers.

Helpers for metrics: `load_digits_arrays()` (all images and labels),
`split_indices(generator)` (the permutation cut used by `make`), `digits_split()`
(one fixed, run-independent split for cached artefacts), `labels_of(images)`
(the class of images taken from the dataset, by exact lookup: all 1 797 images
are distinct).
"""

from __future__ import annotations

from functools import lru_cache

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = [
    "Digits",
    "DigitsInpaint",
    "DigitsClassify",
    "load_digits_arrays",
    "split_indices",
    "digits_split",
    "labels_of",
    "N_IMAGES",
    "SPLIT_FRACTIONS",
    "N_CLASSES",
    "FIXED_SPLIT_SEED",
]

N_IMAGES = 1797
N_CLASSES = 10
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)  # train / val / test
_HALF = 32  # pixels in rows 0-3 of an 8x8 image
FIXED_SPLIT_SEED = 0  # the split of `digits_split`, shared by every run


@lru_cache(maxsize=1)
def _digits_numpy():
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def load_digits_arrays():
    """All images (float32 [1797, 64] in [0, 1]) and labels (int64 [1797]), fresh copies."""
    images, labels = _digits_numpy()
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.copy())


def split_indices(generator):
    """(train, val, test) index tensors: a permutation of the dataset cut 60 / 20 / 20 %."""
    perm = torch.randperm(N_IMAGES, generator=generator, device=generator.device).cpu()
    n_train = round(SPLIT_FRACTIONS[0] * N_IMAGES)
    n_val = round(SPLIT_FRACTIONS[1] * N_IMAGES)
    return perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]


def digits_split(seed: int = FIXED_SPLIT_SEED):
    """A run-independent split for fixed artefacts (e.g. the Frechet feature classifier):
    (train images, train labels, held-out images, held-out labels), the held-out part
    being val + test of `split_indices` under a generator seeded with `seed`."""
    images, labels = load_digits_arrays()
    train, val, test = split_indices(torch.Generator().manual_seed(seed))
    held = torch.cat([val, test])
    return images[train], labels[train], images[held], labels[held]


@lru_cache(maxsize=1)
def _label_table():
    images, labels = _digits_numpy()
    keys = (images * 16).round().astype("uint8")
    return {k.tobytes(): int(c) for k, c in zip(keys, labels)}


def labels_of(images):
    """The dataset label of each image row ([B, 64] in [0, 1]); -1 if not a dataset image."""
    import numpy as np

    table = _label_table()
    keys = (images.detach().cpu().double().numpy() * 16).round().clip(0, 255).astype(np.uint8)
    return torch.tensor([table.get(k.tobytes(), -1) for k in keys], dtype=torch.int64)


class DigitsTask(ebmbench.Task):
    tags = frozenset({"image", "digits"})
    reference = (
        "scikit-learn load_digits: UCI optical recognition of handwritten digits (Alpaydin & Kaynak 1998), test part"
    )

    def split(self, images, labels) -> ebmbench.Split:
        raise NotImplementedError

    def make(self, profile, generator):
        images, labels = load_digits_arrays()
        parts = []
        for idx, cap in zip(split_indices(generator), (profile.n_train, profile.n_val, profile.n_test)):
            idx = idx[:cap]
            parts.append(self.split(images[idx], labels[idx]))
        return ebmbench.TaskData(*parts)

    def sample(self, n, generator, x=None):
        raise NotImplementedError(f"task {self.name} is a fixed dataset: it has no sampler; use make()")


class Digits(DigitsTask):
    name = "digits"
    kind = "unconditional"
    dim = 64
    domain = ((0.0, 1.0),) * 64
    image_shape = (8, 8)  # y is the image: the report draws galleries of samples
    main_metric = "fid_digits"
    headline_metrics = ("precision", "recall", "mmd2")  # FID split into fidelity and diversity, and MMD²
    summary = "8x8 handwritten digits (scikit-learn), 64 pixels in [0, 1]"

    def split(self, images, labels):
        return ebmbench.Split(images)


class DigitsInpaint(DigitsTask):
    name = "digits-inpaint"
    kind = "conditional"
    dim = 32
    x_dim = 32
    domain = ((0.0, 1.0),) * 32
    image_shape = (8, 8)  # x (top rows) and y (bottom rows) form the image
    main_metric = "inpaint_mse"
    headline_metrics = ("coverage", "precision", "energy_gap_std")  # samples of the missing half
    summary = "8x8 digits: the bottom half (32 pixels) given the top half"
    tags = DigitsTask.tags | {"inpainting"}

    def split(self, images, labels):
        return ebmbench.Split(images[:, _HALF:].clone(), images[:, :_HALF].clone())

    @staticmethod
    def reassemble(x, y):
        """The full [B, 64] images from top halves x and bottom halves y."""
        return torch.cat([x, y], 1)


class DigitsClassify(DigitsTask):
    name = "digits-classify"
    kind = "conditional"
    dim = N_CLASSES
    x_dim = 64
    n_classes = N_CLASSES
    domain = ((0.0, 1.0),) * N_CLASSES
    main_metric = "accuracy"
    headline_metrics = ("auroc_noise", "energy_gap_std")  # does F(x, c) separate digits from noise?
    ground_truth = frozenset({"labels"})
    summary = "8x8 digits: energy F(x, c) over the one-hot class c; predict argmin_c"
    tags = DigitsTask.tags | {"classification"}

    def split(self, images, labels):
        return ebmbench.Split(self.one_hot(labels), images)

    @staticmethod
    def one_hot(labels):
        return torch.nn.functional.one_hot(labels.long(), N_CLASSES).float()

    @staticmethod
    def labels(y):
        """The class of each y row (its argmax; exact for one-hot rows)."""
        return y.argmax(dim=1)

    @staticmethod
    def candidates(device=None):
        """The 10 possible answers, one-hot rows [10, 10] (score F(x, c) on each)."""
        return torch.eye(N_CLASSES, device=device)


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    register(Digits)
    register(DigitsInpaint)
    register(DigitsClassify)
