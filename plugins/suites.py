"""Built-in suites: `ebmbench run --suite ci`, registered like a third-party suite.

`ci` is what this repository's CI compares against `results/baselines/ci.json` on every
commit. It is chosen to cover, in under 3 minutes on 2 cores (smoke profile):

* every training method of the catalog at least once, hence every method family
  (contrastive: MCMC maximum likelihood, NCE, score matching, autoencoders, margins;
  architectural: prototypes, linear, dictionary, GLO, RBM, latent grid);
* every task family: exact 2-D densities (8gaussians, rings), a reference-density one
  (moons), conditional inference (horn, branches) and the three digits tasks;
* every status a built-in can reach: `done`; `diverged` (contrastive divergence at a
  learning rate of 1000, which blows up within a few steps, so a change that stops
  divergence detection shows up as `fixed`); `skipped` (incompatible pairs). `error`
  and `timeout` need a broken plugin or a slow machine; the fault-injection tests
  cover them, a baseline must not depend on them;
* judged cells with 4 seeds — the smallest count at which a one-sided Mann-Whitney test
  can reach p < 0.05 at all, and enough pairs for the paired test of a code change —
  at the quick budget, cheap methods only (DSM, NCE, SSM, K-means: 1-4 s a cell);
* everything else once, at the smoke budget, judged on its status only: one seed of
  an undertrained model is no evidence about its numbers, but `done` turning into
  `error` is.

Change `version` whenever the selection changes, and save a new baseline.
"""

from ebmbench import Suite, SuiteGroup
from ebmbench.hookspecs import hookimpl

__all__ = ["CISuite", "ebmbench_register_suites"]


class CISuite(Suite):
    name = "ci"
    version = 1
    profile = "smoke"
    summary = "every method, task family and status; 4 seeds of main cells at the quick budget; < 3 min on 2 cores"
    groups = (
        # judged cells: the quick budget, where training still moves the main metric (at
        # smoke, halving a method's steps moves 8gaussians' NLL by < 1 %), and 4 seeds
        SuiteGroup(("8gaussians",), ("mlp",), ("dsm", "nce"), seeds=4, profile="quick"),
        SuiteGroup(("8gaussians",), ("kmeans",), ("kmeans",), seeds=4, profile="quick"),
        SuiteGroup(("horn",), ("mlp",), ("ssm",), seeds=4, profile="quick"),
        SuiteGroup(("digits-classify",), ("mlp",), ("dsm",), seeds=4, profile="quick"),
        # coverage, statuses judged only: every other method runs, on every task family
        *(
            SuiteGroup(tasks, models, methods, judge_metrics=False)
            for tasks, models, methods in (
                (("rings",), ("mlp",), ("cd", "pcd", "short_run", "hmc_ml", "exact_ml", "dsm_multi")),
                (("rings",), ("kmeans",), ("latent_ml",)),
                (("rings",), ("linear",), ("pca",)),
                (("rings",), ("dictionary",), ("sparse_coding",)),
                (("rings",), ("autoencoder",), ("dae",)),
                (("moons",), ("glo",), ("glo",)),
                (("moons",), ("autoencoder",), ("mae",)),
                (("horn",), ("mlp",), ("margin_hinge",)),
                (("branches",), ("mlp",), ("margin_log", "margin_square")),
                (("digits",), ("rbm",), ("rbm",)),
                (("digits-inpaint",), ("autoencoder",), ("dae",)),
                (("8gaussians",), ("mlp",), ("cd[lr=1000]",)),  # diverges within a few steps: a status path
                (("horn",), ("kmeans",), ("kmeans",)),  # K-means has no conditional form: skipped
            )
        ),
    )


@hookimpl
def ebmbench_register_suites(register):
    register(CISuite)
