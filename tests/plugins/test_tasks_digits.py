"""The digits tasks: splits, pixel range, inpainting halves, one-hot classes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ebmbench.profiles import get_profile
from ebmbench_plugins.tasks import digits as D


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def sk():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data, d.target


def test_arrays_are_sklearn_digits_over_16(sk):
    images, labels = D.load_digits_arrays()
    assert images.shape == (D.N_IMAGES, 64) and images.dtype == torch.float32
    np.testing.assert_array_equal(images.numpy() * 16, sk[0])
    np.testing.assert_array_equal(labels.numpy(), sk[1])
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0


def test_splits_are_disjoint_cover_the_dataset_and_follow_the_seed():
    tr, va, te = D.split_indices(gen(0))
    assert (len(tr), len(va), len(te)) == (1078, 359, 360)
    allidx = torch.cat([tr, va, te])
    assert torch.equal(torch.sort(allidx).values, torch.arange(D.N_IMAGES))
    again = D.split_indices(gen(0))
    other = D.split_indices(gen(1))
    assert all(torch.equal(a, b) for a, b in zip((tr, va, te), again))
    assert not torch.equal(tr, other[0])


def test_digits_make_values_and_labels(sk):
    data = D.Digits().make(get_profile("smoke"), gen(5))
    assert [len(data.train), len(data.val), len(data.test)] == [1078, 359, 360]
    rows = []
    for split in (data.train, data.val, data.test):
        assert split.x is None and split.y.shape[1] == 64
        assert float(split.y.min()) >= 0 and float(split.y.max()) <= 1
        lab = D.labels_of(split.y)
        assert (lab >= 0).all()  # every row is a dataset image
        rows.append(split.y)
    # together the three splits are the dataset, each image once
    got = np.sort((torch.cat(rows).numpy() * 16).round().astype(int).view([("", int)] * 64), axis=0)
    want = np.sort(sk[0].astype(int).view([("", int)] * 64), axis=0)
    np.testing.assert_array_equal(got, want)


def test_profile_sizes_cap_the_splits():
    profile = dataclasses.replace(get_profile("smoke"), n_train=100, n_val=50, n_test=20)
    data = D.Digits().make(profile, gen(5))
    full = D.Digits().make(get_profile("smoke"), gen(5))
    assert [len(data.train), len(data.val), len(data.test)] == [100, 50, 20]
    assert torch.equal(data.train.y, full.train.y[:100])


def test_inpaint_halves_reassemble_the_images():
    task = D.DigitsInpaint()
    data = task.make(get_profile("smoke"), gen(6))
    ref = D.Digits().make(get_profile("smoke"), gen(6))
    for split, whole in ((data.train, ref.train), (data.test, ref.test)):
        assert split.x.shape[1] == 32 and split.y.shape[1] == 32
        assert torch.equal(task.reassemble(split.x, split.y), whole.y)
        img = whole.y.view(-1, 8, 8)
        assert torch.equal(split.x.view(-1, 4, 8), img[:, :4]) and torch.equal(split.y.view(-1, 4, 8), img[:, 4:])


def test_classify_one_hot_rows_and_labels(sk):
    task = D.DigitsClassify()
    assert task.n_classes == 10 and task.dim == 10 and task.x_dim == 64
    data = task.make(get_profile("smoke"), gen(7))
    y = data.test.y
    assert ((y == 0) | (y == 1)).all() and torch.equal(y.sum(1), torch.ones(len(y)))
    assert torch.equal(task.labels(y), D.labels_of(data.test.x))
    assert torch.equal(task.one_hot(task.labels(y)), y)
    assert torch.equal(task.candidates(), torch.eye(10))
    counts = torch.bincount(task.labels(data.train.y), minlength=10)
    assert (counts > 80).all()  # ~108 per class in 1078 training images


def test_no_true_sampler_and_metadata():
    for cls in (D.Digits, D.DigitsInpaint, D.DigitsClassify):
        assert "sampler" not in cls.ground_truth
        assert {"image", "digits"} <= cls.tags
        assert len(cls.domain) == cls.dim
        with pytest.raises(NotImplementedError):
            cls().sample(5, gen(0))
    assert D.DigitsClassify.ground_truth == {"labels"}


def test_fixed_split_for_cached_artefacts():
    a = D.digits_split()
    b = D.digits_split()
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert len(a[0]) == 1078 and len(a[2]) == 719
    assert torch.equal(D.labels_of(a[0]), a[1])
    assert torch.equal(D.labels_of(torch.rand(3, 64, generator=gen(0)) * 0.9 + 0.05), torch.full((3,), -1))
