"""The `density` model: a normalised density fitted by a baseline method (issue 11).

Design choice. The baselines `kde` and `gaussian` (plugins/methods/baselines.py) are
not architectures trained by a loss: the law *is* the method. So one model, family
"density", builds an empty slot (`_density_nets.FittedDensity`) and the method fits its
law into it (`model.fit(KDEEnergy(...))`). The alternative, one model per law with the
method only tuning it, would offer pairs such as "kde model + gaussian method" that
mean nothing; here `-m density -M kde -M gaussian` gives exactly one row per baseline,
ranked beside the EBMs on the same split and seeds, evaluated like every energy:
E = -log p is a torch module (grid NLL, samplers, inference metrics all apply).
"""

from __future__ import annotations

import ebmbench

__all__ = ["Density"]

EBMBENCH_PLUGIN_API = 1


class Density(ebmbench.Model):
    name = "density"
    family = "density"  # fitted by the baseline methods (kde, gaussian), never by a loss
    kinds = frozenset({"unconditional"})
    summary = "a normalised density fitted in closed form by a baseline method (kde, gaussian); E = -log p"
    reference = "docs/science.md §5 (reference figures); issue 11 (baseline rows)"

    def build(self, task, data, generator):
        from ebmbench_plugins.models._density_nets import FittedDensity

        return FittedDensity(task.dim)


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(Density)
