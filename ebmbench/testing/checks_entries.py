"""Behaviour checks of tasks, models and samplers, each called directly on its contract.

Every check runs its call twice with the same seed under two different global RNG
states (identical results: deterministic and blind to the global RNG), once with
another seed (different results, unless the call drew nothing from its generator),
and watches the global RNGs around it.
"""

from __future__ import annotations

import copy
import math

from ebmbench.contracts import SampleResult, Split
from ebmbench.seeding import make_generator
from ebmbench.testing.guards import rng_changes, rng_snapshot, same_value, seed_global_rngs
from ebmbench.testing.references import gaussian_target

__all__ = ["check_task_data", "check_task_ground_truth", "check_model_build", "check_model_cuda", "check_sampler"]


def watched(label: str, fn, *args, **kwargs):
    """fn(*args, **kwargs), failing if it moved a global RNG."""
    before = rng_snapshot()
    out = fn(*args, **kwargs)
    moved = rng_changes(before, rng_snapshot())
    assert not moved, f"{label} changed the global {'/'.join(moved)} RNG: draw from the generator it is handed"
    return out


def drew(generator, seed: int) -> bool:
    """Whether `generator` (seeded with `seed`) was used at all."""
    import torch

    return not torch.equal(generator.get_state(), make_generator(seed, str(generator.device)).get_state())


def _check_split(where: str, split, task, limit: int) -> None:
    import torch

    assert isinstance(split, Split), f"{where} must be an ebmbench.Split, got {type(split).__name__}"
    y = split.y
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32, f"{where}.y must be a float32 tensor"
    assert y.ndim == 2 and y.shape[1] == task.dim, f"{where}.y must be [n, dim={task.dim}], got {list(y.shape)}"
    assert 1 <= y.shape[0] <= limit, f"{where} has {y.shape[0]} rows; the profile allows 1..{limit}"
    assert torch.isfinite(y).all(), f"{where}.y has non-finite values"
    if task.kind == "conditional":
        x = split.x
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float32, f"{where}.x must be a float32 tensor"
        assert list(x.shape) == [y.shape[0], task.x_dim], f"{where}.x must be [n, x_dim={task.x_dim}]"
        assert torch.isfinite(x).all(), f"{where}.x has non-finite values"
    else:
        assert split.x is None, f"{where}.x must be None for an unconditional task"
    box = torch.tensor(task.domain, dtype=y.dtype)
    inside = ((y >= box[:, 0]) & (y <= box[:, 1])).all(1).float().mean().item()
    assert inside >= 0.99, f"only {inside:.1%} of {where}.y lies in the domain {task.domain}: widen it"


def check_task_data(kit, name: str) -> None:
    """make() at the smoke profile: shapes, dtypes, finiteness, the domain, seeds, RNG."""
    task, profile = kit.make("tasks", name), kit.profile
    seed_global_rngs(1)
    a = watched(f"task {name}.make()", task.make, profile, make_generator(10))
    for split, limit in (("train", profile.n_train), ("val", profile.n_val), ("test", profile.n_test)):
        _check_split(f"make().{split}", getattr(a, split), task, limit)
    seed_global_rngs(2)
    b = watched(f"task {name}.make()", kit.make("tasks", name).make, profile, make_generator(10))
    assert same_value(_arrays(a), _arrays(b)), "make() with the same generator seed gave different data"
    c = kit.make("tasks", name).make(profile, make_generator(11))
    assert not same_value(_arrays(a), _arrays(c)), "make() gave identical data for different seeds"


def _arrays(data):
    return [getattr(data, s).y for s in ("train", "val", "test")] + [
        getattr(data, s).x for s in ("train", "val", "test")
    ]


def _noise(task, n: int, seed: int):
    import torch

    box = torch.tensor(task.domain, dtype=torch.float32)
    return box[:, 0] + torch.rand(n, task.dim, generator=make_generator(seed)) * (box[:, 1] - box[:, 0])


def check_task_ground_truth(kit, name: str) -> None:
    """Each declared ground truth answers with the right shape and agrees with the data."""
    import torch

    task, data = kit.task(name), kit.data(name)
    test = data.test
    n, x = len(test), test.x
    tags = task.ground_truth
    if "log_density" in tags:
        lp = watched("log_density()", task.log_density, test.y, x)
        assert list(lp.shape) == [n] and torch.isfinite(lp).all(), "log_density(test data) must be finite, shape [B]"
        noise_lp = task.log_density(_noise(task, n, 3), x).double().mean()
        assert lp.double().mean() > noise_lp, "log_density is not higher on the task's data than on uniform noise"
        if task.kind == "unconditional" and task.dim <= 2:
            mass = _mass_on_domain(task)
            assert 0.5 < mass < 1.02, f"exp(log_density) integrates to {mass:.3f} over the domain: not normalised"
    if "support_distance" in tags:
        d = watched("support_distance()", task.support_distance, test.y, x)
        assert list(d.shape) == [n] and torch.isfinite(d).all() and (d >= 0).all(), "support_distance: [B], >= 0"
        assert d.mean() < task.support_distance(_noise(task, n, 3), x).mean(), "data not closer to support than noise"
    if "modes" in tags:
        modes = task.conditional_modes(x[:8])
        assert modes.ndim == 3 and modes.shape[0] == 8 and modes.shape[2] == task.dim, "conditional_modes: [B, M, dim]"
    if "sampler" in tags:
        fresh = watched("sample()", task.sample, 64, make_generator(4), x=None if x is None else x[:64])
        _check_split("sample(64)", fresh, task, 64)
    if "reference_density" in tags:
        ref = task.reference_log_density(test.y, x)
        assert list(ref.shape) == [n], "reference_log_density must return [B]"


def _mass_on_domain(task) -> float:
    import torch

    res = 2000 if task.dim == 1 else 200
    axes, cell = [], 1.0
    for lo, hi in task.domain:
        h = (hi - lo) / res
        axes.append(torch.linspace(lo + h / 2, hi - h / 2, res))
        cell *= h
    grid = torch.cartesian_prod(*axes).reshape(-1, task.dim)
    return float(task.log_density(grid).double().exp().sum() * cell)


def _plain_tensor_attrs(module) -> list[str]:
    """Tensors kept as plain attributes: `.to(device)` leaves them behind (§4.3)."""
    import torch

    found = []
    for mod_name, mod in module.named_modules():
        for key, value in vars(mod).items():
            if isinstance(value, torch.Tensor):
                found.append(f"{mod_name}.{key}".lstrip("."))
    return found


def _energies(module, y, x):
    import torch

    with torch.no_grad():
        return module(y, x)


def _fitted(kit, name: str, task_name: str, module, data):
    """`module` after a 4-step training by a compatible method: for a model whose energy is
    defined only once its method has fitted it (the built-in `density`, filled by `kde`)."""
    from ebmbench.context import TrainContext
    from ebmbench.testing.references import micro_profile

    method = kit.cell_for("models", name, task=task_name)[2]
    ctx = TrainContext(kit.registry, kit.task(task_name), micro_profile(), 3, kit.device)
    kit.make("methods", method).train(module.train(), data, ctx)
    return module.eval()


def check_model_build(kit, name: str) -> None:
    """build() on a compatible task: an nn.Module on the device, [B] float32 finite
    energies, rows independent of each other, seeds honoured, `.to()` working."""
    import torch

    task_name = kit.task_for_model(name)
    task, data = kit.task(task_name), kit.data(task_name)
    spec = kit.make("models", name)
    seed_global_rngs(1)
    g = make_generator(7)
    module = spec.build(task, data, g)  # may touch the global RNG (nn.Linear's own init)
    assert isinstance(module, torch.nn.Module), f"build() must return a torch.nn.Module, got {type(module).__name__}"
    module = module.to(kit.device).eval()
    tensors = list(module.parameters()) + list(module.buffers())
    assert all(t.device.type == torch.device(kit.device).type for t in tensors), "parameters/buffers off the device"
    plain = _plain_tensor_attrs(module)
    assert not plain, f"tensors kept as plain attributes do not move with .to(device): {plain}; register_buffer them"
    y, x = data.test.y, data.test.x
    try:
        _energies(module, y[:2], None if x is None else x[:2])
        ready = lambda m: m  # noqa: E731
    except Exception:  # noqa: BLE001 - a law only its method fits (family "density"): fit it first
        ready = lambda m: _fitted(kit, name, task_name, m, data)  # noqa: E731
    module = ready(module)
    e = watched(f"model {name}.forward()", _energies, module, y, x)
    assert isinstance(e, torch.Tensor) and list(e.shape) == [len(y)], f"forward(y, x) must return [B], got {e.shape}"
    assert e.dtype == torch.float32, f"energies must be float32, got {e.dtype}"
    assert torch.isfinite(e).all(), "non-finite energies on the test data"
    assert torch.isfinite(_energies(module, _noise(task, len(y), 5), x)).all(), "non-finite energies on noise"
    part = _energies(module, y[:17], None if x is None else x[:17])
    assert torch.allclose(part, e[:17], rtol=1e-4, atol=1e-5), "a row's energy depends on the other rows of the batch"
    seed_global_rngs(2)
    again = ready(spec.build(task, data, make_generator(7)).to(kit.device).eval())
    assert same_value(module.state_dict(), again.state_dict()), "build() with the same seed gave another module"
    assert same_value(e, _energies(again, y, x)), "build() with the same seed gave other energies"
    if drew(g, 7):
        other = ready(spec.build(task, data, make_generator(8)).to(kit.device).eval())
        assert not same_value(e, _energies(other, y, x)), "build() ignores its generator's seed"
    moved = copy.deepcopy(module).to(kit.device)
    assert same_value(e, _energies(moved, y, x)), "a copy moved with .to() gives other energies"


def check_model_cuda(kit, name: str) -> None:
    """The CPU-built module moved to CUDA: everything follows, the energies agree."""
    import torch

    task_name = kit.task_for_model(name)
    task, data = kit.task(task_name), kit.data(task_name)
    module = kit.make("models", name).build(task, data, make_generator(7)).eval()
    y, x = data.test.y[:256], None if data.test.x is None else data.test.x[:256]
    cpu = _energies(module, y, x)
    module.to("cuda")
    assert all(t.is_cuda for t in [*module.parameters(), *module.buffers()]), "not all tensors moved to CUDA"
    gpu = _energies(module, y.cuda(), None if x is None else x.cuda())
    assert torch.allclose(cpu, gpu.cpu(), rtol=1e-3, atol=1e-4), "energies differ between CPU and CUDA"


def check_sampler(kit, name: str) -> None:
    """On a standard normal target: shapes, dtype, domain, untouched init, stats, seeds,
    RNG, and chains that move from uniform noise towards the mode."""
    import torch

    entry = kit.registry.get("samplers", name)
    params = {}
    if "steps" in entry.cls.params:  # as evaluation does, capped at the profile's length
        params["steps"] = min(entry.cls.params["steps"].default, kit.profile.sampler_steps)
    energy = gaussian_target(2)
    domain = torch.tensor([[-4.5, 4.5], [-4.5, 4.5]])
    init = -4.5 + 9 * torch.rand(256, 2, generator=make_generator(11))
    keep = init.clone()

    def run(seed: int, global_seed: int):
        seed_global_rngs(global_seed)
        g = make_generator(seed)
        out = watched(
            f"sampler {name}.sample()", kit.make("samplers", name, **params).sample, energy, init, g, domain=domain
        )
        return out, g

    r, g = run(5, 1)
    assert isinstance(r, SampleResult), f"sample() must return an ebmbench.SampleResult, got {type(r).__name__}"
    s = r.samples
    assert isinstance(s, torch.Tensor) and s.shape == init.shape, f"samples must have init's shape {list(init.shape)}"
    assert s.dtype == torch.float32 and not s.requires_grad, "samples must be float32 and detached"
    assert torch.isfinite(s).all(), "non-finite samples"
    assert torch.equal(init, keep), "sample() modified init in place"
    assert ((s >= domain[:, 0] - 1e-6) & (s <= domain[:, 1] + 1e-6)).all(), "samples leave the given domain"
    bad = {
        k: v
        for k, v in r.stats.items()
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, int | float)
    }
    assert not bad, f"stats must map names to Python floats, got {bad}"
    assert "grad_evals" in r.stats and r.stats["grad_evals"] >= 0, "stats must report grad_evals (0.0 if none)"
    e0, e1 = float(energy(init).mean()), float(energy(s).mean())
    assert math.isfinite(e1) and e1 < 0.75 * e0, (
        f"mean energy went from {e0:.2f} to {e1:.2f}: chains do not move to the mode"
    )
    again, _ = run(5, 2)
    assert same_value(s, again.samples), "the same generator seed gave other samples"
    if drew(g, 5):
        other, _ = run(6, 1)
        assert not same_value(s, other.samples), "another generator seed gave the same samples"
