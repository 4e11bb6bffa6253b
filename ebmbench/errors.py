"""Errors the CLI turns into one line and exit code 2 (bad usage or bad input), and the
cleaning of text that plugins hand us (and of paths we print) before it reaches a terminal."""

import difflib
import re
from collections.abc import Iterable

__all__ = ["UsageError", "PluginLoadError", "unknown_name", "strip_control", "shown_path"]

# Terminal control sequences, longest forms first: CSI (ESC [ ... final byte, e.g. colours,
# cursor moves, screen clears); OSC, DCS, SOS, PM and APC strings (ESC ] ... BEL or ST: window
# titles, hyperlinks, clipboard writes), an unterminated one up to the end of its line; other
# escape sequences (ESC plus intermediates and one final byte); the 8-bit C1 forms of all of
# these (U+0080-U+009F, e.g. U+009B is CSI); and the remaining C0 controls and DEL, except
# newline and tab. Carriage return goes too: it lets a message overwrite what was printed.
_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class PluginLoadError(UsageError):
    """A plugin failed to load while --strict-plugins is on."""


def unknown_name(kind: str, name: str, known: Iterable[str], more: str | None = None) -> UsageError:
    """'unknown <kind> <name>' with the closest known names, or the known names when
    none is close (`more` says where to find them when there are too many to list)."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = f" (known: {', '.join(known)})" if len(known) <= 16 else f" (see {more or f'`ebmbench list {kind}`'})"
    return UsageError(f"unknown {kind[:-1]} {name!r}{hint}{listing if not close else ''}")


def strip_control(text: str | None) -> str | None:
    """`text` without terminal control sequences (None stays None).

    Exception messages, reasons and tracebacks come from plugins: a stray colour code
    would bleed into every later line of a table, and an escape sequence can retitle the
    window, rewrite the screen or, in some terminals, write the clipboard. The text is
    stored and printed without them; newlines and tabs are kept (tracebacks need them).
    """
    if text is None:
        return None
    return _CONTROL.sub("", str(text))


def shown_path(path) -> str:
    """A path as printed to the user: relative to the current folder when it lies below it
    (`runs/<id>/report.html` fits a log's 80 columns; an absolute path often does not),
    else as given."""
    import os
    from pathlib import Path

    try:
        rel = Path(os.path.relpath(Path(path).resolve(), Path.cwd()))
    except (OSError, ValueError):  # no current folder, or another drive
        return str(path)
    return str(path) if rel.parts[:1] == ("..",) else str(rel)
