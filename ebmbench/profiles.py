"""Budget profiles: how much data, training and evaluation one cell gets."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["PROFILES", "Profile", "get_profile", "probe_steps"]


@dataclass(frozen=True)
class Profile:
    name: str
    n_train: int  # data points per split
    n_val: int
    n_test: int
    train_steps: int  # optimiser steps (methods scale their own inner loops)
    batch_size: int
    n_samples: int  # model samples drawn for sample-quality metrics
    sampler_steps: int  # MCMC steps used to draw those samples
    n_inference: int  # test points scored by inference metrics
    inference_starts: int  # restarts of argmin_y F(x, y) per point
    inference_steps: int  # gradient steps per restart
    seeds: int  # default repetitions
    # held-out curve metrics (e.g. val nll_grid) measured this many times during training,
    # evenly over the steps: what shows PCD's oscillating NLL, which a loss curve hides
    curve_probes: int = 0

    def to_json(self) -> dict:
        return asdict(self)


PROFILES = {
    # smoke: seconds per cell; proves the plumbing, not the science (tests use it)
    "smoke": Profile("smoke", 2000, 500, 500, 150, 128, 300, 60, 40, 4, 60, 1, 3),
    # quick: the default of `run --all` — the whole catalog (~180 cells a seed) in well
    # under half an hour on 2 cores; enough to separate methods on the toy tasks
    "quick": Profile("quick", 5000, 1000, 1000, 600, 256, 500, 150, 100, 8, 100, 2, 6),
    # full: the published numbers
    "full": Profile("full", 50000, 5000, 5000, 8000, 512, 5000, 500, 500, 16, 300, 5, 20),
}


def probe_steps(profile: Profile) -> tuple[int, ...]:
    """The optimiser steps at which curve metrics are probed: first, last and evenly between."""
    n, last = profile.curve_probes, profile.train_steps - 1
    if n <= 0:
        return ()
    if n == 1:
        return (last,)
    return tuple(sorted({round(i * last / (n - 1)) for i in range(n)}))


def get_profile(name: str) -> Profile:
    from ebmbench.errors import unknown_name

    try:
        return PROFILES[name]
    except KeyError:
        raise unknown_name("profiles", name, PROFILES) from None
