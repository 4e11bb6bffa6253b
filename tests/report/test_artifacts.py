"""Report arrays saved by each cell (ebmbench/execution/artifacts.py) on energies whose
landscapes and minima are known in closed form, and their round trip through the store."""

from __future__ import annotations

import math

import numpy as np
import torch

import ebmbench
from ebmbench.executor_api import CellSpec
from ebmbench.context import EvalContext
from ebmbench.contracts import SampleResult
from ebmbench.profiles import get_profile
from ebmbench.execution.artifacts import COND_STARTS, COND_X, COND_X_1D, GRID, collect, image_shape
from ebmbench.results.runs import load_artifacts
from ebmbench.results.store import RunStore


def spec(rep=0):
    return CellSpec("c0", "t", "m", {}, "h", {}, rep, 0, 0, "smoke")


class Plane(ebmbench.Task):
    name, kind, dim, domain, main_metric = "plane", "unconditional", 2, ((-2.0, 2.0), (-1.0, 3.0)), "mmd2"


class Branches1D(ebmbench.Task):
    """y | x = +x or -x (two branches), x in [0.2, 1]."""

    name, kind, dim, x_dim, domain, main_metric = "two-branches", "conditional", 1, 1, ((-2.0, 2.0),), "e"

    def sample(self, n, generator, x=None):
        sign = torch.randint(0, 2, (n, 1), generator=generator).float() * 2 - 1
        return ebmbench.Split(sign * x, x)


class Rings(ebmbench.Task):
    """y | x on the circle of radius 1 + x."""

    name, kind, dim, x_dim, domain, main_metric = "rings2", "conditional", 2, 1, ((-3.0, 3.0), (-3.0, 3.0)), "e"

    def sample(self, n, generator, x=None):
        t = torch.rand(n, 1, generator=generator) * 2 * math.pi
        return ebmbench.Split(torch.cat([torch.cos(t), torch.sin(t)], 1) * (1 + x), x)


class Digits(ebmbench.Task):
    name, kind, dim, domain, main_metric = "digits", "unconditional", 64, ((0.0, 1.0),) * 64, "fid"
    image_shape = (8, 8)


class Inpaint(ebmbench.Task):
    name, kind, dim, x_dim, domain, main_metric = "digits-inpaint", "conditional", 32, 32, ((0.0, 1.0),) * 32, "mse"
    image_shape = (8, 8)  # of x and y together: x the top rows


class Energy(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, y, x=None):
        return self.fn(y, x)


def ectx(task, fn, train, test, samples=None):
    data = ebmbench.TaskData(train, train, test)
    ctx = EvalContext(None, task, get_profile("smoke"), 0, "cpu", model=Energy(fn), data=data)
    if samples is not None:
        ctx.cache["samples"] = SampleResult(samples)  # what the method's sampler would have drawn
    return ctx


def test_landscape_grid_is_the_energy_on_the_domain():
    g = torch.Generator().manual_seed(0)
    test = ebmbench.Split(torch.randn(700, 2, generator=g))
    ctx = ectx(Plane(), lambda y, x: (y[:, 0] - 0.5) ** 2 + 3 * (y[:, 1] - 1) ** 2, test, test, test.y * 2)
    out = collect(ctx, spec())
    energy = np.asarray(out["grid_energy"])
    assert energy.shape == (GRID, GRID)
    xs, ys = np.linspace(-2, 2, GRID), np.linspace(-1, 3, GRID)
    expected = (xs[None, :] - 0.5) ** 2 + 3 * (ys[:, None] - 1) ** 2  # row = second coordinate
    np.testing.assert_allclose(energy, expected, rtol=1e-5, atol=1e-5)
    assert out["grid_extent"] == [-2.0, 2.0, -1.0, 3.0]
    assert np.asarray(out["samples"]).shape == (500, 2) and np.asarray(out["data"]).shape == (500, 2)
    assert collect(ctx, spec(rep=1)) == {}  # only the first seed keeps arrays


def test_conditional_argmins_lie_on_both_branches():
    x = torch.linspace(0.2, 1.0, 300)[:, None]
    test = ebmbench.Split(x.clone(), x)
    fn = lambda y, x: torch.minimum((y - x) ** 2, (y + x) ** 2)[:, 0]
    out = {k: np.asarray(v) for k, v in collect(ectx(Branches1D(), fn, test, test), spec()).items()}
    xs, found = out["cond_x"], out["cond_argmin"]
    assert found.shape == (COND_X_1D, COND_STARTS, 1)
    dist = np.minimum(abs(found[..., 0] - xs[:, None]), abs(found[..., 0] + xs[:, None]))
    assert dist.max() < 1e-3
    assert ((found[..., 0] > 0).any(1) & (found[..., 0] < 0).any(1)).all()  # every x: both branches
    np.testing.assert_allclose(
        abs(out["cond_true"][..., 0]), np.repeat(xs[:, None], out["cond_true"].shape[1], 1), rtol=1e-6
    )
    assert out["cond_grid_energy"].shape == (GRID, GRID // 2)


def test_conditional_argmins_on_the_ring():
    x = torch.rand(300, 1, generator=torch.Generator().manual_seed(1))
    test = ebmbench.Split(torch.zeros(300, 2), x)
    fn = lambda y, x: (y.norm(dim=1) - (1 + x[:, 0])) ** 2
    out = {k: np.asarray(v) for k, v in collect(ectx(Rings(), fn, test, test), spec()).items()}
    radius = np.linalg.norm(out["cond_argmin"], axis=-1)
    assert out["cond_argmin"].shape == (COND_X, COND_STARTS, 2)
    np.testing.assert_allclose(radius, 1 + out["cond_x"][:, None] + 0 * radius, atol=1e-2)
    np.testing.assert_allclose(
        np.linalg.norm(out["cond_true"], axis=-1),
        np.repeat(1 + out["cond_x"][:, None], out["cond_true"].shape[1], 1),
        rtol=1e-5,
    )


def test_digit_samples_come_with_their_nearest_training_image():
    g = torch.Generator().manual_seed(2)
    train = ebmbench.Split(torch.rand(200, 64, generator=g))
    samples = torch.rand(40, 64, generator=g)
    out = {
        k: np.asarray(v)
        for k, v in collect(ectx(Digits(), lambda y, x: y.sum(1), train, train, samples), spec()).items()
    }
    assert out["images"].shape == (32, 64)
    d = ((samples[:32, None, :].numpy() - train.y[None].numpy()) ** 2).sum(-1)
    np.testing.assert_allclose(out["nearest"], train.y.numpy()[d.argmin(1)])
    assert list(out["image_shape"]) == [8, 8] and list(out["pixel_range"]) == [0.0, 1.0]


def test_inpainting_finds_the_minimum():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(50, 32, generator=g) * 0.8 + 0.1
    data = ebmbench.Split(torch.rand(50, 32, generator=g), x)
    fn = lambda y, x: ((y - x) ** 2).sum(1)
    out = {k: np.asarray(v) for k, v in collect(ectx(Inpaint(), fn, data, data), spec()).items()}
    np.testing.assert_allclose(out["inpaint_pred"], x[:8].numpy(), atol=1e-3)
    assert out["nearest"].shape == (8, 64)
    assert image_shape(Inpaint()) == (8, 8) and image_shape(Plane()) is None
    undeclared = type("Undeclared", (Digits,), {"image_shape": None})
    assert image_shape(undeclared()) is None  # named "digits", 64 pixels: still no image without the field


def test_store_round_trip_without_pickle(tmp_path):
    store = RunStore.create(tmp_path, "r1", {"run_id": "r1"})
    arrays = {"grid_energy": [[1.0, 2.0], [3.0, float("nan")]], "image_shape": [8, 8]}
    store.add_artifacts("cell1", arrays)
    store.add_artifacts("cell2", {})  # nothing to keep: no file
    back = load_artifacts(store.dir, "cell1")
    assert back["grid_energy"].dtype == np.float32 and back["image_shape"].dtype.kind == "i"
    np.testing.assert_array_equal(back["grid_energy"], np.array(arrays["grid_energy"], dtype=np.float32))
    assert load_artifacts(store.dir, "cell2") is None
    # object arrays would need pickle: refused on load (read as "no arrays", never unpickled)
    np.savez(store.dir / "artifacts" / "evil.npz", a=np.array([{"x": 1}], dtype=object))
    assert load_artifacts(store.dir, "evil") is None
