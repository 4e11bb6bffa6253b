"""Errors the CLI turns into one line and exit code 2 (bad usage or bad input)."""

import difflib
from collections.abc import Iterable

__all__ = ["UsageError", "PluginLoadError", "unknown_name"]


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class PluginLoadError(UsageError):
    """A plugin failed to load while --strict-plugins is on."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> UsageError:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = f" (known: {', '.join(known)})" if len(known) <= 12 else f" (see `ebmbench list {kind}`)"
    return UsageError(f"unknown {kind[:-1]} {name!r}{hint}{listing if not close else ''}")
