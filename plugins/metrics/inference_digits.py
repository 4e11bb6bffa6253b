"""Inference accuracy on the digits tasks: classification and inpainting (docs/science.md §4).

* `accuracy` (`digits-classify`, conditional F(x, c) with y = one-hot class c):
  the class of argmin_c F(x, c) over the `n_classes` one-hot answers, compared with
  the test label, on the whole test split. Exact ties count as a uniformly random
  choice among the tied classes (credit 1/|ties| when the true class is among
  them), so a constant energy scores exactly chance, 1 / n_classes, whatever the
  class balance, instead of whatever class index 0 happens to be worth.
* `inpaint_mse` (`digits-inpaint`, x = the top half, y = the bottom half):
  argmin_y F(x, y) by Adam descent from several uniform starts in the pixel box
  (the lowest final energy wins), then the mean squared error per pixel against the
  true bottom half of the test image.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import
from ebmbench_plugins.metrics.inference import best_of_starts

torch = lazy_import("torch")

__all__ = ["Accuracy", "InpaintMSE", "class_energies", "tie_aware_accuracy"]


def class_energies(ctx, x, n_classes: int):
    """F(x_i, e_c) for every test condition i and class c: [n, n_classes]."""
    n = x.shape[0]
    eye = torch.eye(n_classes, device=x.device, dtype=x.dtype)
    y = eye.repeat(n, 1)  # row i * C + c is class c for condition i
    xs = x.repeat_interleave(n_classes, 0)
    return ctx.energy(y, xs).view(n, n_classes)


def tie_aware_accuracy(energies, labels) -> float:
    """Mean over rows of 1/|argmin set| if the label is in the argmin set, else 0."""
    e = energies.double()
    tied = e == e.min(dim=1, keepdim=True).values  # [n, C]
    hit = tied[torch.arange(e.shape[0], device=e.device), labels]
    return float((hit.double() / tied.sum(1).double()).mean())


class Accuracy(ebmbench.Metric):
    name = "accuracy"
    direction = "higher"
    task_kinds = frozenset({"conditional"})
    requires = frozenset({"labels"})
    summary = "test accuracy of argmin_c F(x, c) over the one-hot classes (ties split evenly)"
    reference = "docs/science.md §4; LeCun et al. 2006, energy-based classification"

    def compute(self, ctx):
        test = ctx.data.test
        n_classes = int(getattr(ctx.task, "n_classes", ctx.task.dim))
        energies = class_energies(ctx, test.x, n_classes)
        if not torch.isfinite(energies).all():
            raise ValueError("non-finite class energies")
        labels = test.y.argmax(dim=1)
        return tie_aware_accuracy(energies, labels)


class InpaintMSE(ebmbench.Metric):
    name = "inpaint_mse"
    direction = "lower"
    task_kinds = frozenset({"conditional"})
    summary = "per-pixel MSE of argmin_y F(x, y) (best of several descents) to the true missing half"
    reference = "docs/science.md §4, inpainting error"

    def applies_to(self, task):
        if task.kind != "conditional":
            return "needs a conditional task"
        if "inpainting" not in task.tags:
            return "needs an inpainting task (tag 'inpainting')"
        return None

    def compute(self, ctx):
        test = ctx.data.test
        n = min(ctx.profile.n_inference, len(test))
        x, y_true = test.x[:n], test.y[:n]
        dims = list(range(ctx.task.dim))
        y = best_of_starts(
            ctx, lambda y, rows: ctx.model(y, x[rows]), n, ctx.profile.inference_starts, dims, ctx.generator("inpaint")
        )
        return float((y.double() - y_true.double()).pow(2).mean())


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(Accuracy)
    register(InpaintMSE)
