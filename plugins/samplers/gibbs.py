"""Gibbs sampling for discrete variables (docs/science.md §3): RBM blocks, binary sites, one-hot z.

Samples exp(-E / T). Three schemes, chosen by what the energy exposes (`mode=auto`):

* `block` — a model with `gibbs_step` (the RBM): alternate h ~ p(h | v) and
  v ~ p(v | h), both factorised Bernoullis at inverse temperature 1/T (Hinton 2002).
  For a conditional RBM the condition x (the leading visible units) stays clamped.
* `latent` — a latent EBM with a finite latent set and E(y, z) = ||y - decode(x, z)||^2
  (`energies(y, x)` [B, K] or `latent_set()` + `latent_energy`, and `decode(x, z)`;
  K-means prototypes, the horn's latent grid): alternate the one-hot
  z ~ softmax(-E(y, .) / T) and y ~ N(decode(x, z), T/2 I), both exact conditionals, so the
  chain targets p(y, z) ∝ exp(-E(y, z) / T), whose
  y-marginal is exp(-F_{1/T}(y) / T) up to a constant.
* `site` — any energy of a binary vector: systematic-scan single-site Gibbs,
  p(v_i = 1 | rest) = sigmoid((E(v_i=0) - E(v_i=1)) / T), two energy evaluations per
  site (Geman & Geman 1984). For an RBM's free energy this samples p(v) with h summed out.

Structure-aware schemes need the module behind the energy: `energy_of(module, x)`
builds such a callable, and EvalContext.energy_fn attaches `.module` and `.x` to the
callable it hands to samplers. Binary schemes start from Bernoulli(init clipped to
[0, 1]); the returned samples are binary.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["Gibbs", "energy_of", "block_gibbs", "site_gibbs", "latent_gibbs", "sample_latent"]


def energy_of(module, x=None):
    """y -> module(y, x), carrying `.module` and `.x` for structure-aware samplers."""

    def fn(y):
        return module(y, x)

    fn.module, fn.x = module, x
    return fn


def _bernoulli(p, generator):
    return (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)


def block_gibbs(rbm, y, x, steps, generator, temperature=1.0):
    """`steps` block sweeps of an RBM from visible y (x clamped when the RBM is conditional)."""
    clamp = None
    v = y
    with torch.no_grad():
        if getattr(rbm, "n_cond", 0):
            clamp = (x > 0.5).to(y.dtype) if rbm.binarize else x
            v = torch.cat([clamp, y], dim=1)
        for _ in range(steps):
            v, _ = rbm.gibbs_step(v, generator, beta=1.0 / temperature, clamp=clamp)
    return v[:, v.shape[1] - y.shape[1] :]


def site_gibbs(energy, v, sweeps, generator, temperature=1.0):
    """Systematic-scan single-site Gibbs on binary rows v [B, D] for any energy callable
    (two B-row calls per site, so a conditional energy's rows stay aligned with its x)."""
    v = v.clone()
    with torch.no_grad():
        for _ in range(sweeps):
            for i in range(v.shape[1]):
                v0, v1 = v.clone(), v.clone()
                v0[:, i], v1[:, i] = 0.0, 1.0
                p1 = torch.sigmoid((energy(v0) - energy(v1)) / temperature)
                v[:, i] = _bernoulli(p1, generator)
    return v


def sample_latent(module, y, x, generator, temperature=1.0):
    """One-hot z ~ p(z | y, x) ∝ exp(-E(y, z, x) / T) over the module's finite latent set
    (`energies(y, x)` [B, K] if the module has it, else `latent_energy` at each row of
    `latent_set()`)."""
    if hasattr(module, "energies"):
        e = module.energies(y, x)  # [B, K]
    else:
        zs = module.latent_set()
        e = torch.stack([module.latent_energy(y, z.expand(y.shape[0], -1), x) for z in zs], 1)
    # a prototype model that stores its cluster frequencies (log_prior) weighs them in
    logits = -e / temperature + getattr(module, "log_prior", 0.0)
    k = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator).squeeze(1)
    return torch.nn.functional.one_hot(k, e.shape[1]).to(y.dtype)


def latent_gibbs(module, y, x, steps, generator, temperature=1.0):
    """Alternate z | y and y | z (exact: E is quadratic in y); returns (y, z, switch rate)."""
    switches = 0.0
    with torch.no_grad():
        z = sample_latent(module, y, x, generator, temperature)
        for _ in range(steps):
            mean = module.decode(x, z)
            noise = torch.randn(mean.shape, generator=generator, device=y.device, dtype=y.dtype)
            y = mean + (temperature / 2) ** 0.5 * noise
            z_new = sample_latent(module, y, x, generator, temperature)
            switches += float((z_new != z).any(1).float().mean())
            z = z_new
    return y, z, switches / max(1, steps)


class Gibbs(ebmbench.Sampler):
    name = "gibbs"
    summary = "Gibbs for discrete variables: RBM block sweeps, binary single sites, one-hot latents"
    reference = "Geman & Geman 1984; Hinton 2002 (block Gibbs in RBMs)"
    params = {
        "steps": ebmbench.Param(100, "Gibbs sweeps", low=0),
        "temperature": ebmbench.Param(1.0, "T: samples exp(-E / T)", low=1e-6),
        "mode": ebmbench.Param(
            "auto", "scheme (auto: from what the energy's module exposes)", choices=("auto", "block", "site", "latent")
        ),
    }

    @staticmethod
    def resolve(energy) -> str:
        module = getattr(energy, "module", None)
        if hasattr(module, "gibbs_step"):
            return "block"
        if (hasattr(module, "energies") or hasattr(module, "latent_set")) and hasattr(module, "decode"):
            return "latent"
        return "site"

    def sample(self, energy, init, generator, *, domain=None):
        mode = self.resolve(energy) if self.p["mode"] == "auto" else self.p["mode"]
        module, x = getattr(energy, "module", None), getattr(energy, "x", None)
        if mode != "site" and module is None:
            raise ValueError(f"gibbs mode {mode} needs the model: pass energy_of(module, x)")
        steps, temp = self.p["steps"], self.p["temperature"]
        stats = {"grad_evals": 0.0, "temperature": temp, "sweeps": float(steps)}
        if mode == "latent":
            y, _, rate = latent_gibbs(module, init.detach(), x, steps, generator, temp)
            stats["latent_switch_rate"] = rate
            return ebmbench.SampleResult(y, stats)
        v = _bernoulli(init.detach().clamp(0, 1), generator)
        if mode == "block":
            v = block_gibbs(module, v, x, steps, generator, temp)
        else:
            v = site_gibbs(energy, v, steps, generator, temp)
            stats["energy_evals"] = float(2 * steps * v.shape[1] * v.shape[0])
        return ebmbench.SampleResult(v, stats)


@ebmbench.hookimpl
def ebmbench_register_samplers(register):
    register(Gibbs)
