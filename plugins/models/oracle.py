"""The `oracle` model: the task's own law as an energy, E(y, x) = -log p(y | x) (issue 11).

Run through exactly the same evaluation as every method (`ebmbench run -m oracle`, trained
by the method `given`, plugins/methods/baselines.py), it is the floor of each metric on
that split: the grid NLL of the truth, the sample metrics the evaluation sampler reaches
on the exact energy (a sampler that distorts the oracle measures itself, not the model),
the inference error of the true conditional law. It is a plain energy (not latent): the
latent and grid metrics see one forward(y, x) like any neural energy.

Which law, in this order (docs/science.md §5):

* ground truth "log_density": the exact `task.log_density` (8gaussians, checkerboard,
  rings; any plugin task that declares it, conditional ones included);
* the sample-only 2-D tasks (2spirals, pinwheel, moons, swissroll): the cached reference
  density on the evaluation grid (toy2d_density.py), interpolated bilinearly exactly as
  `reference_log_density` does, but differentiable in y so samplers get a score; a plugin
  task with "reference_density" and no grid: its `reference_log_density`;
* `horn`: the ellipse law, a periodic quadrature over the angle (_oracle_net.HornOracle);
* `branches`: the equal mixture of three Gaussians around the branch values, exactly.

Any other task (the digits tasks: a fixed data set, no density) is incompatible, with
that reason. Where the density is exactly 0 (checkerboard's empty cells) the energy is
finite: -log(FLOOR / domain volume), FLOOR = 1e-10 as in the reference densities.
"""

from __future__ import annotations

import math

import ebmbench

__all__ = ["Oracle", "oracle_law"]

EBMBENCH_PLUGIN_API = 1


def oracle_law(task) -> str | None:
    """Which law the oracle of `task` uses: exact, grid, reference, horn, branches, or None."""
    from ebmbench_plugins.tasks.conditional import Branches, Horn
    from ebmbench_plugins.tasks.toy2d import Toy2D

    truth = task.ground_truth
    if "log_density" in truth:
        return "exact"
    if "reference_density" in truth:
        return "grid" if isinstance(task, Toy2D) else "reference"
    if isinstance(task, Horn):
        return "horn"
    if isinstance(task, Branches):
        return "branches"
    return None


def _log_floor(task) -> float:
    """log of the reference densities' floor (toy2d_density.FLOOR) spread over the domain."""
    from ebmbench_plugins.tasks.toy2d_density import FLOOR

    volume = math.prod(hi - lo for lo, hi in task.domain)
    return math.log(FLOOR / volume)


class Oracle(ebmbench.Model):
    name = "oracle"
    family = "oracle"  # trained only by the method `given`: nothing to fit
    summary = "the task's own -log p(y | x) (exact, reference grid, or known conditional law): each metric's floor"
    reference = "docs/science.md §5; issue 11 (oracle rows)"

    def compatible(self, task):
        reason = super().compatible(task)
        if reason is None and oracle_law(task) is None:
            return (
                f"model oracle needs the task's law: {task.name} has no exact log_density, no reference "
                "density and no known conditional law"
            )
        return reason

    def build(self, task, data, generator):
        from ebmbench_plugins.models import _oracle_net as net

        law = oracle_law(task)
        if law == "exact":
            return net.ExactOracle(task, _log_floor(task))
        if law == "reference":
            return net.ExactOracle(task, _log_floor(task), attr="reference_log_density")
        if law == "grid":
            from ebmbench_plugins.tasks import grid
            from ebmbench_plugins.tasks import toy2d_density as dens

            lo, hi = grid.GRID_DOMAIN
            return net.GridOracle(dens.reference_density_grid(task), dens.FLOOR / (hi - lo) ** 2)
        if law == "horn":
            return net.HornOracle(task.radii, task.NOISE, _log_floor(task))
        if law == "branches":
            return net.BranchesOracle(task.branch_values, task.NOISE, _log_floor(task))
        raise ValueError(self.compatible(task))


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(Oracle)
