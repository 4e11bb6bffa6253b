"""The training loop shared by the MCMC maximum-likelihood methods (docs/science.md §1–2).

Maximum likelihood needs  dL/dW = E_data[dE/dW] - E_model[dE/dW]; the methods
(`cd`, `pcd`, `short_run`, `hmc_ml`) differ only in where their negative samples
come from, i.e. where the chains start and which sampler moves them. Each one
implements `start` (state kept across updates, e.g. a replay buffer) and
`negatives`; this base does the rest:

    loss = mean E(y+) - mean E(y-) + alpha * (mean E(y+)^2 + mean E(y-)^2)

(the L2 energy penalty of Du & Mordatch 2019 keeps energies near zero, since the
contrastive term alone is blind to a constant shift), Adam with beta1 = 0 (IGEBM,
JEM: momentum across non-stationary negatives hurts), and a training curve with
loss, energy gap (mean E- minus mean E+), parameter-gradient norm, the gap to
uniform noise, the chains' temperature and MH acceptance, and whatever the
negatives report (buffer age, ...).
Negatives are detached: the sampler's path is not differentiated.

Langevin step (issue 11): unadjusted Langevin, y' = y - eps grad E + sqrt(2 eps) xi, does not
sample exp(-E) but a wider law: on a Gaussian of std l its stationary variance is
l^2 / (1 - eps / 2 l^2). At the old fixed step (0.01 for a width-8 domain) a task whose
features are narrow (rings: noise 0.08, eps = 0.01 = 0.8 l^2) is blurred to a radial RMS
several times the true one, so the true density is not a fixed point of training and
the model learns to compensate. The default step (`step=0`, "auto") is therefore capped
at 0.1 l^2 where the task declares its narrowest feature l (`Task.length_scale`): a
variance error of 1 / (1 - 0.05) - 1 ≈ 5 % per coordinate. Tasks without one (digits,
checkerboard's flat cells) keep the width-scaled default. On rings (full profile, one
seed) the cap moved pcd's grid NLL from 3.62 to 3.45 and cd's from 3.58 to 3.13 (at the
quick budget, where the chains mix less, it cost 0.3 nats). `short_run` keeps its step:
its K-step chain from noise is the model and never reaches a stationary law, so the bias
argument does not apply, and the cap made it worse (3.02 -> 3.60). Chains at T = 1 sample exp(-E),
which is then the learned law, so evaluation uses the suite's default evaluation sampler
(Metropolis-adjusted, unbiased) rather than the training chain (docs/science.md §2).

Learning rate: the image recipes use 1e-4 over ~10^5 updates. On the toy profiles
(1 500 updates at quick) 1e-3 leaves every method - exact ML and DSM included - on
the "ring" plateau of 8gaussians (grid NLL ~3.3, the modes not yet resolved);
1e-2 leaves it within the budget (quick, 8gaussians, one seed: pcd 2.93, cd 2.92,
short_run 2.97, exact_ml 2.88; true 2.83), so 1e-2 is the default here.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["MCMCMaxLikelihood", "langevin_params", "auto_langevin_step", "lr_scheduler", "OPTIM_PARAMS"]


AUTO_STEP_FRACTION = 0.1  # auto step <= 0.1 l^2: ~5 % variance inflation of a Gaussian of std l


def langevin_params(steps: int, step: float = 0.01, capped: bool = True) -> dict[str, ebmbench.Param]:
    """The chain hyperparameters of a Langevin-driven method; `step` is the auto step's base."""
    cap = f", capped at {AUTO_STEP_FRACTION:g} * length_scale^2 on tasks that declare one" if capped else ""
    return {
        "steps": ebmbench.Param(steps, "Langevin steps per update", low=1),
        "step": ebmbench.Param(0.0, f"Langevin step size (width-8 domain); 0 = auto: {step:g}{cap}", low=0),
        "noise": ebmbench.Param(-1.0, "Langevin noise; -1 = sqrt(2*step) (T = 1)", low=-1),
        "grad_clip": ebmbench.Param(0.0, "clip each chain's input gradient to this norm (0 = off)", low=0),
    }


OPTIM_PARAMS = {
    "alpha": ebmbench.Param(0.1, "L2 energy penalty weight alpha (E+^2 + E-^2)", low=0),
    "lr": ebmbench.Param(
        1e-2, "Adam learning rate (beta1 = 0); 1e-3 stalls on the toy tasks' quick budget", low=0, low_open=True
    ),
    "schedule": ebmbench.Param(
        "constant", "learning-rate schedule over the profile's steps", choices=("constant", "cosine")
    ),
}


def auto_langevin_step(base: float, task, domain_width: float) -> float:
    """The auto Langevin step (width-8 units): `base`, capped at 0.1 l^2 on a task with a length scale l.

    Samplers scale width-8 steps by (width / 8)^2, so the cap is divided by that here.
    """
    scale = getattr(task, "length_scale", None)
    if scale is None:
        return base
    return min(base, AUTO_STEP_FRACTION * scale**2 / (domain_width / 8.0) ** 2)


def lr_scheduler(opt, schedule: str, n_steps: int):
    """A per-step scheduler for `schedule` (None for a constant rate)."""
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, n_steps))
    return None


class MCMCMaxLikelihood(ebmbench.Method):
    """Contrastive ML with MCMC negatives; subclasses choose chain starts and sampler."""

    family = "contrastive"
    chain_sampler_name = "langevin"
    chain_stats: dict = {}  # stats of the last sampler run (temperature, acceptance, ...)
    box = None  # the task's domain tensor, made once per training run
    auto_step = 0.01  # the Langevin step `step=0` means before the task's cap
    cap_step_by_task = True  # False: the chains' stationary law is not the model (short-run)
    step_ = None  # the step in use, resolved against the task when training starts

    # ---------------------------------------------------------------- to override
    def chain_params(self) -> dict:
        """The training sampler's parameters (default: Langevin from `steps/step/noise`)."""
        params = {k: self.p[k] for k in ("steps", "step", "noise", "grad_clip")}
        if params["step"] == 0:
            params["step"] = self.step_ if self.step_ is not None else self.auto_step
        return params

    def resolve_step(self, ctx) -> None:
        if "step" in self.p and self.p["step"] == 0 and self.cap_step_by_task:
            dom = ctx.domain()
            width = float((dom[:, 1] - dom[:, 0]).mean())
            self.step_ = auto_langevin_step(self.auto_step, ctx.task, width)

    def start(self, model, data, ctx, generator):
        """State kept across updates (e.g. a replay buffer); None by default."""
        return

    def negatives(self, state, sampler, model, y_pos, x_pos, ctx, generator):
        """(y-, x-, diagnostics) for one update."""
        raise NotImplementedError

    # ------------------------------------------------------------------- shared
    def replay_buffer(self, data, ctx, generator):
        """A `ReplayBuffer` of uniform-noise chains sized by the `buffer` and `reinit` params.

        Capped at 10 x the training-set size so small profiles stay cheap; conditional
        tasks fill the stored conditions x from the training split.
        """
        from ebmbench_plugins.samplers.buffer import ReplayBuffer

        train = data.train
        size = min(self.p["buffer"], ctx.profile.n_train * 10)
        x = None if train.x is None else train.x[ctx.minibatch(len(train), size, generator)]
        return ReplayBuffer(ctx.uniform, size, generator, reinit=self.p["reinit"], x=x)

    def sampler(self):
        """Chains at T = 1 learn exp(-E) itself: evaluation samples it with the suite's default
        (unbiased) evaluation sampler. Other temperatures are sampled as trained."""
        params = self.chain_params()
        if params.get("noise", -1.0) == -1.0:
            return None, {}
        params.pop("steps", None)  # the profile decides how long evaluation chains run
        return self.chain_sampler_name, params

    def run_chains(self, sampler, model, y0, x, ctx, generator):
        """Advance chains y0 (conditions x) and count the gradient evaluations."""
        if self.box is None:
            self.box = ctx.domain()
        result = sampler.sample(lambda y: model(y, x), y0, generator, domain=self.box)
        ctx.grad_evals += int(result.stats.get("grad_evals", 0))
        self.chain_stats = result.stats
        return result

    def train(self, model, data, ctx):
        g = ctx.generator(self.name)
        self.box = ctx.domain()
        self.resolve_step(ctx)
        sampler = ctx.sampler(self.chain_sampler_name, **self.chain_params())
        state = self.start(model, data, ctx, g)
        opt = torch.optim.Adam(model.parameters(), lr=self.p["lr"], betas=(0.0, 0.999))
        train, batch, alpha = data.train, ctx.profile.batch_size, self.p["alpha"]
        n_steps = ctx.profile.train_steps
        sched = lr_scheduler(opt, self.p["schedule"], n_steps)
        log_every = max(1, n_steps // 100)
        for step in range(n_steps):
            idx = ctx.minibatch(len(train), batch, g)
            y_pos = train.y[idx]
            x_pos = None if train.x is None else train.x[idx]
            y_neg, x_neg, diag = self.negatives(state, sampler, model, y_pos, x_pos, ctx, g)
            e_pos, e_neg = model(y_pos, x_pos), model(y_neg.detach(), x_neg)
            cd = e_pos.mean() - e_neg.mean()
            loss = cd + alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean()) if alpha > 0 else cd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            opt.step()
            if sched is not None:
                sched.step()
            if step % log_every == 0 or step == n_steps - 1:
                # the chains' temperature (T = noise^2 / 2 step for Langevin) and MH acceptance
                chain = {k: v for k, v in self.chain_stats.items() if k in ("temperature", "acceptance")}
                ctx.log(
                    step,
                    loss=loss.item(),
                    energy_gap=-cd.item(),
                    grad_norm=gnorm.item(),
                    noise_gap=ctx.noise_gap(model, y_pos, x_pos),
                    **chain,
                    **diag,
                )
