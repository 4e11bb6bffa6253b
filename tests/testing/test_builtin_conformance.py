"""Every built-in plugin passes the conformance kit (issue 12): the very line a
third-party author writes, pointed at the `ebmbench` distribution itself."""

from ebmbench.testing import conformance_suite

# Partners: the cheapest built-ins to pair with (a K-means cell trains in well under a
# second). Exempt: cost metrics, which measure the sampler's speed, not the model's
# quality, so a perfect and a poor model tie (or differ by timing noise).
test_builtin_conformance = conformance_suite(
    "ebmbench",
    partners=("8gaussians", "branches", "kmeans", "linear", "mlp", "pca", "nce"),
    exempt={
        # direction and determinism: per-second values carry the machine's timing noise
        "metrics:samples_per_s:d*": "a cost (samples per second), not a quality: timing, not the model",
        "metrics:ess_per_s:d*": "a cost (effective samples per second): timing, not the model",
        "metrics:sampler_grad_evals:direction": "a cost (gradient evaluations): the same for any model",
    },
    # AIS on the kit's 64-D KDE energy (~10 ms a call): about a minute, so the slow pass
    slow=("metrics:ais_nll*:direction",),
)
