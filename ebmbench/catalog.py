"""The catalog as Markdown, generated from the registry: every task, model, method,
sampler, metric, executor and suite with its parameters (default, what is allowed),
its metadata and its source paper. `ebmbench list --format md > docs/catalog.md`
writes the committed page; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any

__all__ = ["catalog_markdown"]

# per kind: the metadata fields shown beside the summary, in order
FIELDS = {
    "tasks": (
        "kind",
        "dim",
        "x_dim",
        "domain",
        "main_metric",
        "headline_metrics",
        "ground_truth",
        "tags",
        "image_shape",
        "length_scale",
    ),
    "models": ("family", "task_kinds", "latent", "inverse_temperature_param"),
    "methods": ("family", "model_families", "task_kinds", "inverse_temperature_param"),
    "samplers": ("default_for_evaluation",),
    "metrics": (
        "direction",
        "task_kinds",
        "requires",
        "max_dim",
        "tolerance",
        "curve_probe",
        "unbiased_nonnegative",
        "sampling_cost_per_sample",
    ),
    "executors": (),
    "suites": ("suite_version", "profile", "metrics"),
}
DIRECTION = {"higher": "higher is better ↑", "lower": "lower is better ↓", "none": "reported, not ranked"}


def _cell(text: Any) -> str:
    """A Markdown table cell: pipes escaped, on one line."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(field: str, value: Any) -> str:
    if field == "direction":
        return DIRECTION.get(value, str(value))
    if isinstance(value, list):
        return ", ".join(f"`{v}`" if isinstance(v, str) else str(v) for v in value) or "—"
    return f"`{value}`" if isinstance(value, str) else str(value)


def _entry(kind: str, e: dict[str, Any]) -> list[str]:
    lines = [f"### `{e['name']}`", "", " ".join(str(e.get("summary") or "").split()), ""]
    # a flag reads as a fact only where it is set: `curve probe: False` on 25 metrics is noise
    facts = [(f, e[f]) for f in FIELDS.get(kind, ()) if f in e and e[f] not in (None, "") and e[f] is not False]
    facts.append(("source", e.get("reference") or "—"))
    facts.append(("plugin", f"`{e.get('plugin')}`"))
    lines += [f"* **{f.replace('_', ' ')}**: {_value(f, v) if f not in ('source', 'plugin') else v}" for f, v in facts]
    params = e.get("params") or {}
    if params:
        lines += ["", "| parameter | default | allowed | meaning |", "|:--|:--|:--|:--|"]
        for name, p in params.items():
            row = [f"`{name}`", f"`{p['default']}`", p.get("allowed") or "", p.get("help") or ""]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines + [""]


def catalog_markdown(data: dict[str, list[dict[str, Any]]]) -> str:
    """`data`: kind -> the entries' `describe()` dicts, as `ebmbench list --json` gives them."""
    lines = [
        "# The ebmbench catalog",
        "",
        "Generated from the plugin registry by `ebmbench list --format md > docs/catalog.md`",
        "(a test fails when this page and the registry differ). "
        + ", ".join(f"{len(v)} {k if len(v) != 1 else k[:-1]}" for k, v in data.items())
        + ".",
        "",
    ]
    for kind, entries in data.items():
        lines += [f"## {kind.capitalize()}", ""]
        for e in entries:
            lines += _entry(kind, e)
    return "\n".join(lines).rstrip() + "\n"
