"""Margin losses with the most offending incorrect answer (plugins/methods/margin.py).

References: the loss formulas against NumPy, y_bar against a brute-force search,
and the end-to-end claim of the issue — each loss trains an MLP energy F(x, c) to
> 90 % test accuracy on `digits-classify`, the prediction being argmin_c F(x, c)
computed here class by class and scored by scikit-learn.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score

from ebmbench.context import TrainContext
from ebmbench.profiles import Profile
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.seeding import make_generator
from ebmbench_plugins.methods.margin import margin_loss, neighbour_table, offending_class, offending_point


@pytest.fixture(scope="module")
def registry():
    return load_registry(LoadConfig())


def test_loss_formulas_match_numpy():
    g = torch.Generator().manual_seed(0)
    e_pos, e_neg = torch.randn(100, generator=g) * 2, torch.randn(100, generator=g) * 2
    p, n, m = e_pos.double().numpy(), e_neg.double().numpy(), 0.7
    ref = {
        "hinge": np.maximum(0, m + p - n),
        "log": np.log1p(np.exp(p - n)),
        "square_square": p**2 + np.maximum(0, m - n) ** 2,
    }
    for kind, expected in ref.items():
        assert np.allclose(margin_loss(kind, e_pos, e_neg, m).double().numpy(), expected, atol=1e-5), kind
    with pytest.raises(ValueError):
        margin_loss("cubic", e_pos, e_neg, m)


class TableEnergy(torch.nn.Module):
    """F(x, y) = a fixed table T[row id in x, class of y]: y_bar is known by inspection."""

    def __init__(self, table):
        super().__init__()
        self.table = table

    def forward(self, y, x):
        return self.table[x[:, 0].long(), y.argmax(1)]


def test_offending_class_is_the_lowest_energy_wrong_class():
    g = torch.Generator().manual_seed(1)
    table = torch.randn(50, 10, generator=g)
    labels = torch.randint(0, 10, (50,), generator=g)
    y = torch.nn.functional.one_hot(labels, 10).float()
    x = torch.arange(50).float()[:, None]
    y_bar, label, energies = offending_class(TableEnergy(table), y, x)
    for i in range(50):  # brute force: the smallest entry of the row other than the label's
        wrong = [c for c in range(10) if c != labels[i]]
        best = min(wrong, key=lambda c: table[i, c].item())
        assert y_bar[i].argmax().item() == best and y_bar[i].sum().item() == 1
    assert torch.equal(label, labels) and torch.allclose(energies, table)


def test_offending_point_is_far_from_y_and_lowest_among_candidates():
    """F(y) = ||y - a||^2 with a = y + (0.05, 0): the true minimum is inside the radius, so
    y_bar must be the lowest-energy candidate outside it — near the radius' edge toward a."""
    g = torch.Generator().manual_seed(2)
    y = torch.zeros(200, 2)
    a = torch.tensor([0.05, 0.0])

    class Bowl(torch.nn.Module):
        def forward(self, yy, x=None):
            return (yy - a).pow(2).sum(-1)

    domain = torch.tensor([[-4.5, 4.5], [-4.5, 4.5]])
    radius = 0.5
    y_bar = offending_point(Bowl(), y, None, domain, radius, 64, g)
    dist = y_bar.norm(dim=1)
    assert (dist > radius).all()
    assert dist.median() < 2 * radius  # the local candidates find the offending region
    assert (y_bar[:, 0] > 0).float().mean() > 0.8  # on a's side of y


def test_neighbour_table_matches_sklearn():
    from sklearn.neighbors import NearestNeighbors

    g = torch.Generator().manual_seed(3)
    x, ref = torch.rand(600, 3, generator=g), torch.rand(300, 3, generator=g)
    ours = neighbour_table(x, ref, 5, chunk=128).numpy()
    theirs = NearestNeighbors(n_neighbors=5).fit(ref.double().numpy()).kneighbors(x.double().numpy())[1]
    assert (np.sort(ours, 1) == np.sort(theirs, 1)).all()


def test_known_answers_are_not_offending():
    """A bowl centred on a second correct answer a: without the answer set y_bar lands near a
    (the lowest energy); given a as a known answer, y_bar must stay r away from it too."""
    g = torch.Generator().manual_seed(4)
    y = torch.zeros(100, 2)
    a = torch.tensor([2.0, 0.0])

    class Bowl(torch.nn.Module):
        def forward(self, yy, x=None):
            return (yy - a).pow(2).sum(-1)

    domain, radius = torch.tensor([[-4.5, 4.5], [-4.5, 4.5]]), 0.5
    free = offending_point(Bowl(), y, None, domain, radius, 256, g)
    assert (free - a).norm(dim=1).median() < radius
    kept = offending_point(Bowl(), y, None, domain, radius, 256, g, answers=a.expand(100, 1, 2))
    assert ((kept - a).norm(dim=1) > radius).all() and (kept.norm(dim=1) > radius).all()


def predict(model, x, n_classes=10):
    """argmin_c F(x, e_c), one class at a time (independent of margin.class_energies)."""
    energies = []
    with torch.no_grad():
        for c in range(n_classes):
            onehot = torch.zeros(x.shape[0], n_classes)
            onehot[:, c] = 1
            energies.append(model(onehot, x))
    return torch.stack(energies, 1).argmin(1)


@pytest.mark.parametrize("method", ["margin_hinge", "margin_log", "margin_square"])
def test_margin_losses_classify_digits(registry, method):
    profile = Profile("margin-test", 2000, 500, 500, 300, 64, 50, 5, 5, 2, 5, 1)
    task = registry.make("tasks", "digits-classify")
    data = task.make(profile, make_generator(1))
    model = registry.make("models", "mlp").build(task, data, make_generator(2))
    ctx = TrainContext(registry, task, profile, 3, "cpu")
    registry.make("methods", method).train(model, data, ctx)
    pred = predict(model, data.test.x)
    acc = accuracy_score(task.labels(data.test.y).numpy(), pred.numpy())
    assert acc > 0.9, acc
    last = ctx.curve[-1]
    assert {"loss", "energy_gap", "noise_gap", "grad_norm", "accuracy", "violations"} <= set(last)


@pytest.mark.parametrize("method", ["margin_hinge", "margin_square"])
def test_margin_on_a_continuous_task_trains(registry, method):
    profile = Profile("tiny", 1000, 200, 200, 40, 64, 50, 5, 5, 2, 5, 1)
    task = registry.make("tasks", "horn")
    data = task.make(profile, make_generator(1))
    model = registry.make("models", "mlp").build(task, data, make_generator(2))
    ctx = TrainContext(registry, task, profile, 3, "cpu")
    registry.make("methods", method, candidates=8).train(model, data, ctx)
    assert all(math.isfinite(v) for row in ctx.curve for v in row.values())
    assert ctx.curve[-1]["energy_gap"] > ctx.curve[0]["energy_gap"]  # y_bar pushed above y


def test_margin_needs_a_conditional_task(registry):
    mlp = registry.make("models", "mlp")
    reason = registry.make("methods", "margin_log").compatible(mlp, registry.make("tasks", "8gaussians"))
    assert reason and "conditional" in reason
    assert "margin" not in registry.get("methods", "margin_log").cls.params  # the log loss has none
