"""The registration checks: a class a plugin registers against its contract (contracts.py).

Every check reads class attributes only (nothing is instantiated, torch is never
imported) and fails with one ContractError line naming the entry and the field:

    task 'blobs': image_shape (8, 9) has 72 pixels, not dim 64 (or dim + x_dim 64)
    metric 'nll': requires: 'log_densty' is not a ground-truth kind; did you mean 'log_density'?

The registry turns it into the plugin's failure (`ebmbench plugins` shows it beside the
plugin's name; fatal with --strict-plugins), like any other registration error.
Vocabularies that are open to plugins (ground-truth kinds, model families, tags) accept
a new lowercase word, but refuse a near-miss of a known one: "log_densty" is a typo that
would otherwise make a metric silently never apply.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from typing import Any

from ebmbench.contracts import (
    DIRECTIONS,
    GROUND_TRUTH,
    METHOD_FAMILIES,
    MODEL_FAMILIES,
    TASK_KINDS,
    Component,
    Param,
)

__all__ = ["ContractError", "NAME_RE", "WORD_RE", "TAG_RE", "check_entry", "near_miss"]

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")  # entry names: `8gaussians`, `digits-inpaint`
WORD_RE = re.compile(r"^[a-z][a-z0-9_]*$")  # vocabulary words: ground truth, families
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # task tags: `2d`, `inpainting`
PARAM_TYPES = (bool, int, float, str)  # what the command line can parse (ebmbench.params)
ENTRY_KINDS = ("tasks", "models", "methods", "samplers", "metrics")  # what Param.names may name
HINT = 0.6  # difflib ratio above which an error suggests the known word


class ContractError(ValueError):
    """A registered class breaks its contract: `<kind> '<entry>': <field> <problem>`."""

    def __init__(self, kind: str, entry: str, field: str, problem: str):
        self.kind, self.entry, self.field, self.problem = kind, entry, field, problem
        super().__init__(f"{kind} {entry!r}: {field} {problem}")


def _hint(word: Any, known: Iterable[str], cutoff: float = HINT) -> str:
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
    two neighbours (the typo "nueral" is one edit from "neural", difflib rates it 0.83)."""
    prev2, prev = [], list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            row.append(min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb)))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def near_miss(word: str, known: Iterable[str]) -> str | None:
    """The known word that `word` is a typo of, if any: one edit away (two for words of 12
    letters or more), both at least 4 letters long — so a short new word that merely
    resembles a known one ("glow" beside "glo") stays allowed."""
    for k in sorted(known):
        short = min(len(word), len(k))
        if short >= 4 and word != k and _edits(word, k) <= (2 if short >= 12 else 1):
            return k
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _words(value: Any) -> bool:
    """A set of words: a frozenset or set (a tuple works too), never one bare string."""
    return isinstance(value, frozenset | set | tuple | list) and all(isinstance(v, str) for v in value)


class _Checker:
    """The checks of one class; `fail(field, problem)` raises the one-line error."""

    def __init__(self, kind: str, cls: type[Component], name: str):
        self.kind, self.cls, self.name = kind, cls, name

    def fail(self, field: str, problem: str) -> None:
        raise ContractError(self.kind, self.name, field, problem)

    def get(self, field: str) -> Any:
        return getattr(self.cls, field)

    # --------------------------------------------------------------- building blocks
    def closed(self, field: str, value: Any, vocab: dict[str, str], what: str) -> None:
        if value not in vocab:
            self.fail(field, f"must be one of {', '.join(vocab)} ({what}), got {value!r}{_hint(value, vocab)}")

    def open_word(self, field: str, word: Any, vocab: dict[str, str], what: str) -> None:
        """A word of an open vocabulary: a known one, or a new lowercase identifier that
        is not a near-miss of a known one."""
        if word in vocab:
            return
        if not isinstance(word, str) or not WORD_RE.match(word):
            self.fail(field, f"{word!r} is not a {what}: a lowercase identifier is needed ({WORD_RE.pattern})")
        close = near_miss(word, vocab)
        if close:
            self.fail(
                field,
                f"{word!r} is not a {what}; did you mean {close!r}? (a new {what} must not be a near-miss "
                "of a known one)",
            )

    def word_set(self, field: str, vocab: dict[str, str] | None, what: str, empty_ok: bool = True) -> frozenset:
        value = self.get(field)
        if not _words(value):
            self.fail(field, f"must be a frozenset of {what} names (str), got {value!r}")
        if not value and not empty_ok:
            self.fail(field, "must not be empty")
        for word in sorted(value):
            if vocab is TASK_KINDS:
                self.closed(field, word, TASK_KINDS, "task kinds")
            elif vocab is not None:
                self.open_word(field, word, vocab, what)
        return frozenset(value)

    def boolean(self, field: str) -> None:
        value = self.get(field)
        if not isinstance(value, bool):
            self.fail(field, f"must be True or False, got {value!r}")

    def text(self, field: str, one_line: bool = False) -> None:
        value = self.get(field)
        if not isinstance(value, str):
            self.fail(field, f"must be a str, got {type(value).__name__}")
        if one_line and "\n" in value:
            self.fail(field, "must be one line (it is a column of `ebmbench list`)")

    # ------------------------------------------------------------------- every entry
    def component(self) -> None:
        self.text("summary", one_line=True)
        self.text("reference")
        params = self.get("params")
        if not isinstance(params, dict):
            self.fail("params", f"must be a dict of name -> ebmbench.Param, got {type(params).__name__}")
        for key, p in params.items():
            self.param(key, p)

    def param(self, key: Any, p: Any) -> None:
        field = f"params[{key!r}]"
        if not isinstance(key, str) or not key.isidentifier():
            self.fail(field, "must be named by a Python identifier (it is a keyword on the command line)")
        if not isinstance(p, Param):
            self.fail(field, f"must be an ebmbench.Param, got {type(p).__name__}")
        if type(p.default) not in PARAM_TYPES:
            self.fail(field, f"default must be a bool, int, float or str, got {type(p.default).__name__}")
        if p.choices is not None:
            if not isinstance(p.choices, tuple) or not p.choices:
                self.fail(field, f"choices must be a non-empty tuple, got {p.choices!r}")
            if p.default not in p.choices:
                self.fail(field, f"default {p.default!r} is not one of its choices {p.choices!r}")
        for bound in ("low", "high"):
            value = getattr(p, bound)
            if value is not None and (not _number(value) or math.isnan(value)):
                self.fail(field, f"{bound} must be a number or None, got {value!r}")
        if p.low is not None and p.high is not None and p.low > p.high:
            self.fail(field, f"low {p.low!r} is above high {p.high!r}")
        if _number(p.default) and (why := p.violation(float(p.default))):
            self.fail(field, f"default {p.default!r} is outside what it allows ({p.describe()}: {why})")
        if p.names is not None and (p.names not in ENTRY_KINDS or not isinstance(p.default, str)):
            kinds = ", ".join(ENTRY_KINDS)
            self.fail(field, f"names must be one of {kinds} on a str parameter, got {p.names!r}")

    def temperature_param(self) -> None:
        """`inverse_temperature_param` names a declared float parameter (or is None)."""
        field = "inverse_temperature_param"
        value = self.get(field)
        if value is None:
            return
        params = self.get("params")
        if value not in params:
            known = ", ".join(params) or "none"
            self.fail(field, f"{value!r} is not one of its params ({known}){_hint(value, params)}")
        if params[value].type is not float:
            kind = params[value].type.__name__
            self.fail(field, f"{value!r} must be a float parameter (β, inf for F∞), it is {kind}")

    # -------------------------------------------------------------------------- kinds
    def task(self) -> None:
        kind = self.get("kind")
        self.closed("kind", kind, TASK_KINDS, "task kinds")
        dim, x_dim = self.get("dim"), self.get("x_dim")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            self.fail("dim", f"must be an int >= 1, got {dim!r}")
        if not isinstance(x_dim, int) or isinstance(x_dim, bool) or x_dim < 0:
            self.fail("x_dim", f"must be an int >= 0, got {x_dim!r}")
        if kind == "conditional" and x_dim < 1:
            self.fail("x_dim", "must be >= 1 for a conditional task (the width of x)")
        if kind == "unconditional" and x_dim != 0:
            self.fail("x_dim", f"must be 0 for an unconditional task, got {x_dim}")
        self.domain(dim)
        main = self.get("main_metric")
        if not isinstance(main, str) or not main:
            self.fail("main_metric", f"must be a metric name (str), got {main!r}")
        heads = self.get("headline_metrics")
        if not isinstance(heads, tuple | list) or not all(isinstance(m, str) and m for m in heads):
            self.fail("headline_metrics", f"must be a tuple of metric names, got {heads!r}")
        if len(set(heads)) != len(heads):
            self.fail("headline_metrics", f"names a metric twice: {heads!r}")
        self.word_set("ground_truth", GROUND_TRUTH, "ground-truth kind")
        tags = self.get("tags")
        if not _words(tags):
            self.fail("tags", f"must be a frozenset of str, got {tags!r}")
        for tag in sorted(tags):
            if not TAG_RE.match(tag):
                self.fail("tags", f"{tag!r} must be lowercase letters, digits, '_' or '-' ({TAG_RE.pattern})")
        self.image_shape(dim, x_dim)
        scale = self.get("length_scale")
        if scale is not None and not (_number(scale) and math.isfinite(scale) and scale > 0):
            self.fail("length_scale", f"must be None or a finite number > 0 (data units), got {scale!r}")

    def domain(self, dim: int) -> None:
        domain = self.get("domain")
        pairs = isinstance(domain, tuple | list) and all(isinstance(b, tuple | list) and len(b) == 2 for b in domain)
        if not pairs:
            self.fail("domain", f"must be a tuple of (low, high) pairs, one per coordinate of y, got {domain!r}")
        if len(domain) != dim:
            self.fail("domain", f"has {len(domain)} (low, high) pairs, dim is {dim} (one per coordinate of y)")
        for i, (lo, hi) in enumerate(domain):
            finite = _number(lo) and _number(hi) and math.isfinite(lo) and math.isfinite(hi)
            if not finite or lo >= hi:
                self.fail("domain", f"[{i}] must be finite numbers with low < high, got {(lo, hi)!r}")

    def image_shape(self, dim: int, x_dim: int) -> None:
        shape = self.get("image_shape")
        if shape is None:
            return
        ints = isinstance(shape, tuple | list) and len(shape) == 2
        if not ints or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape):
            self.fail("image_shape", f"must be None or (rows, cols), two ints >= 1, got {shape!r}")
        pixels = shape[0] * shape[1]
        if pixels not in (dim, dim + x_dim):
            both = f" (or dim + x_dim {dim + x_dim})" if x_dim else ""
            self.fail("image_shape", f"{tuple(shape)!r} has {pixels} pixels, not dim {dim}{both}")

    def model(self) -> None:
        self.open_word("family", self.get("family"), MODEL_FAMILIES, "model family")
        self.word_set("kinds", TASK_KINDS, "task kind", empty_ok=False)
        self.boolean("latent")
        self.temperature_param()

    def method(self) -> None:
        self.closed("family", self.get("family"), METHOD_FAMILIES, "method families")
        self.word_set("model_families", MODEL_FAMILIES, "model family", empty_ok=False)
        self.word_set("task_kinds", TASK_KINDS, "task kind", empty_ok=False)
        self.temperature_param()

    def sampler(self) -> None:
        self.boolean("default_for_evaluation")

    def metric(self, reserved: Iterable[str]) -> None:
        direction = self.get("direction")
        if direction not in DIRECTIONS:
            self.fail(
                "direction",
                f"must be 'higher', 'lower' or 'none' (a reported quantity such as a fitted temperature), "
                f"got {direction!r}{_hint(direction, DIRECTIONS)}",
            )
        if self.name in set(reserved):
            self.fail("name", "is reserved for a result column")
        self.word_set("task_kinds", TASK_KINDS, "task kind", empty_ok=False)
        self.word_set("requires", GROUND_TRUTH, "ground-truth kind")
        max_dim = self.get("max_dim")
        if not _number(max_dim) or math.isnan(max_dim) or max_dim < 1:
            self.fail("max_dim", f"must be a number >= 1 (math.inf: any dimension), got {max_dim!r}")
        tol = self.get("tolerance")
        ok = tol is None or (isinstance(tol, tuple) and len(tol) == 2 and all(_number(v) and v >= 0 for v in tol))
        if not ok:
            self.fail("tolerance", f"must be None or (relative, absolute) >= 0, got {tol!r}")
        self.boolean("curve_probe")
        if self.get("curve_probe") and direction == "none":
            self.fail("curve_probe", "needs a ranked metric (direction 'higher' or 'lower'): a curve compares methods")
        self.boolean("unbiased_nonnegative")
        self.boolean("sampling_cost_per_sample")


REQUIRED = {
    "tasks": ("kind", "dim", "domain", "main_metric"),
    "methods": ("family",),
    "metrics": ("direction",),
}


def check_entry(kind: str, cls: Any, base: type, reserved: Iterable[str] = ()) -> str:
    """The entry's name if `cls` keeps its contract, else raise ContractError (ValueError)
    for the first problem found. `base` is the class the kind registers (KINDS[kind])."""
    singular = kind[:-1]
    qual = getattr(cls, "__qualname__", repr(cls))
    if not (isinstance(cls, type) and issubclass(cls, base)):  # no entry to name yet
        raise ValueError(f"register() for {kind} expects a subclass of ebmbench.{base.__name__}, got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ContractError(singular, qual, "name", f"must be a lowercase identifier ({NAME_RE.pattern}), got {name!r}")
    check = _Checker(singular, cls, name)
    for attr in REQUIRED.get(kind, ()):
        if not hasattr(cls, attr):
            check.fail(attr, "is required and missing")
    if kind in ("tasks", "models", "methods", "samplers", "metrics"):
        check.component()
    if kind == "tasks":
        check.task()
    elif kind == "models":
        check.model()
    elif kind == "methods":
        check.method()
    elif kind == "samplers":
        check.sampler()
    elif kind == "metrics":
        check.metric(reserved)
    return name
