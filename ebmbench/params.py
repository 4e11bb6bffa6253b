"""Selections like `pcd[steps=20,lr=1e-3]` and their validation against declared Params.

A value may list alternatives with `|` (`dsm[sigma=0.05|0.1]`): the selection then
expands to one configuration per combination, which is how sweeps are written.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ebmbench.errors import UsageError

__all__ = ["Selection", "parse_selection", "split_selections", "validate_params", "canonical"]

_SPEC = re.compile(r"^\s*([A-Za-z0-9_.+:-]+)\s*(?:\[(.*)\])?\s*$")  # ":" in plugin:name


@dataclass(frozen=True)
class Selection:
    name: str
    params: dict[str, str] = field(default_factory=dict)  # raw strings, validated later

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))


def split_selections(values: tuple[str, ...] | list[str]) -> list[str]:
    """Split `-M "pcd[a=1,b=2],dsm"` on the commas outside brackets."""
    out: list[str] = []
    for value in values:
        depth, start = 0, 0
        for i, ch in enumerate(value):
            depth += ch == "["
            depth -= ch == "]"
            if ch == "," and depth == 0:
                out.append(value[start:i])
                start = i + 1
        out.append(value[start:])
    return [s.strip() for s in out if s.strip()]


def parse_selection(text: str) -> list[Selection]:
    m = _SPEC.match(text)
    if not m:
        raise UsageError(f"cannot parse {text!r}: expected NAME or NAME[key=value,...]")
    name, body = m.group(1), m.group(2)
    if not body or not body.strip():
        return [Selection(name)]
    keys, choices = [], []
    for item in body.split(","):
        if "=" not in item:
            raise UsageError(f"cannot parse {item.strip()!r} in {text!r}: expected key=value")
        key, value = (s.strip() for s in item.split("=", 1))
        if key in keys:
            raise UsageError(f"parameter {key!r} given twice in {text!r}")
        keys.append(key)
        choices.append([v.strip() for v in value.split("|")])
    return [Selection(name, dict(zip(keys, combo))) for combo in itertools.product(*choices)]


def _convert(raw: Any, kind: type, where: str) -> Any:
    if not isinstance(raw, str):
        if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, kind):
            return raw
        raise UsageError(f"{where} expects {kind.__name__}, got {raw!r}")
    try:
        if kind is bool:
            low = raw.lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        return raw
    except ValueError:
        raise UsageError(f"{where} expects {kind.__name__}, got {raw!r}") from None


def validate_params(entry: Any, raw: dict[str, Any]) -> dict[str, Any]:
    """Typed, range-checked parameters, or a UsageError saying what is allowed.

    Bounds may be exclusive and floats must be finite unless declared otherwise (see
    `Param`); plan() calls this for every selection, so a bad value stops the run before
    its first cell instead of surfacing as a diverged cell minutes later."""
    declared = entry.cls.params
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in declared:
            allowed = ", ".join(f"{k} ({p.describe()})" for k, p in declared.items()) or "none"
            raise UsageError(f"{entry.name} has no parameter {key!r}; allowed: {allowed}")
        p = declared[key]
        where = f"parameter {key} of {entry.name}"
        v = _convert(value, p.type, where)
        if p.choices is not None and v not in p.choices:
            raise UsageError(f"{where} must be one of {', '.join(map(str, p.choices))}, got {v!r}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            problem = p.violation(v)
            if problem is not None:
                raise UsageError(f"{where} must be {p.describe()}, got {v!r} ({problem})")
        out[key] = v
    return out


def canonical(params: dict[str, Any]) -> str:
    """Stable text form of explicitly set parameters (used in labels, seeds and rows)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def label(name: str, params: dict[str, Any]) -> str:
    if not params:
        return name
    return f"{name}[{','.join(f'{k}={v}' for k, v in sorted(params.items()))}]"
