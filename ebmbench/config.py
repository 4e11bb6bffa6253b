"""Configuration files for `ebmbench run`: defaults for any option, read from TOML.

Two sources, lowest priority first:

1. a ``[tool.ebmbench]`` table in ``pyproject.toml`` of the working directory
   (only there: searching parent folders would make a run depend on where it
   happens to be started);
2. the file given with ``--config FILE.toml``: its ``[tool.ebmbench]`` table
   when it has one (a pyproject-shaped file), else its top-level keys.

Both become click's ``default_map``, so options given on the command line
(and environment variables) still win: click only looks a default up when the
option was not given.  A key is an option's long name (``fail-on``, ``seed``,
``task``) or its parameter name (``tasks``, ``base_seed``), with ``-`` or ``_``.
Values are checked by the option's own click type, so a file is validated
exactly like the command line; relative paths in values are relative to the
working directory, as they are on the command line.

This module imports neither torch nor pandas.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ebmbench.errors import UsageError

__all__ = ["apply_config", "config_default_map", "merge_default_maps"]

TABLE = "[tool.ebmbench]"


def config_default_map(command: click.Command, config_file: str | os.PathLike | None, cwd: Path) -> dict[str, Any]:
    """Defaults for `command` from cwd/pyproject.toml and `config_file` (which wins).

    Keys are click parameter names, values already converted by the option types;
    a bad file or value raises a one-line UsageError naming the file and the key.
    """
    cwd = Path(cwd)
    keys = _option_keys(command)
    ctx = click.Context(command)  # type conversion (Choice, Path ...) wants a context
    maps = []
    pyproject = cwd / "pyproject.toml"
    if pyproject.exists():  # the user's own project file: a broken one is reported, not skipped
        table = _tool_table(_read(pyproject), pyproject)
        if table is not None:
            maps.append(_convert(table, keys, ctx, f"config {pyproject} {TABLE}"))
    if config_file is not None:
        path = cwd / config_file  # an absolute config_file replaces cwd
        data = _read(path)
        table = _tool_table(data, path)
        where = f"config {path}" if table is None else f"config {path} {TABLE}"
        maps.append(_convert(data if table is None else table, keys, ctx, where))
    return merge_default_maps(*maps)


def merge_default_maps(*maps: Mapping[str, Any] | None) -> dict[str, Any]:
    """One default map from several; a later map wins key by key (None is skipped)."""
    merged: dict[str, Any] = {}
    for m in maps:
        merged.update(m or {})
    return merged


def apply_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Callback of an eager ``--config`` option: file values become ``ctx.default_map``.

    Eager options are processed before all others, so every later option finds
    the file values when it looks up its default, and an option given on the
    command line never looks its default up at all.
    """
    if ctx.resilient_parsing:  # shell completion must not fail on a broken file
        return
    found = config_default_map(ctx.command, value, Path.cwd())
    if found:  # a default_map the caller set (context_settings) stays, below the files
        ctx.default_map = merge_default_maps(ctx.default_map, found)


# ------------------------------------------------------------------------- internals
def _option_keys(command: click.Command) -> dict[str, click.Option]:
    """Accepted file key (spelled with '-') -> option."""
    options = [
        p
        for p in command.params
        # Arguments are positional inputs, not settings; expose_value=False options
        # (--help, --version, --config itself) are actions.
        if isinstance(p, click.Option) and p.expose_value and p.name and p.name != "config"
    ]
    keys: dict[str, click.Option] = {}
    for opt in options:
        for name in opt.opts:
            if name.startswith("--"):
                keys[name[2:].replace("_", "-")] = opt
    # Parameter names too (`tasks`, `base_seed`), but never shadowing a long option name.
    for opt in options:
        keys.setdefault(opt.name.replace("_", "-"), opt)
    return keys


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    except ValueError as exc:  # TOMLDecodeError, or bytes that are not UTF-8
        reason = str(exc)
    raise UsageError(f"config {path}: cannot read: {_one_line(reason)}")


def _tool_table(data: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """The [tool.ebmbench] table, or None when the file has none."""
    tool = data.get("tool")
    if not isinstance(tool, dict) or "ebmbench" not in tool:
        return None
    table = tool["ebmbench"]
    if not isinstance(table, dict):
        raise UsageError(f"config {path}: {TABLE} must be a table, got {_show(table)}")
    return table


def _convert(table: dict[str, Any], keys: dict[str, click.Option], ctx: click.Context, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    used: dict[str, str] = {}  # parameter name -> the key that set it
    for key, raw in table.items():
        opt = keys.get(key.replace("_", "-"))
        if opt is None:
            raise _unknown_key(where, key, keys)
        if opt.name in used:  # e.g. both `task` and `tasks`: which one is meant?
            shown = "/".join(opt.opts)
            raise UsageError(f"{where}: keys {used[opt.name]!r} and {key!r} both set {shown}")
        used[opt.name] = key
        if opt.is_flag and not opt.count:
            if not isinstance(raw, bool):
                raise UsageError(f"{where}: key {key!r} must be true or false, got {_show(raw)}")
            # What giving the flag stores: click >= 8.3 names it flag_activation_value
            # (flag_value stays unset there); older click resolves flag_value itself.
            given = getattr(opt, "flag_activation_value", opt.flag_value)
            if opt.is_bool_flag:  # true means "as if given", even for a flag storing False
                out[opt.name] = raw == given
            elif raw:  # a flag storing another value; false keeps the option's own default
                out[opt.name] = given
            continue
        # Values go to click as the text a shell would pass, so the file is parsed exactly like
        # the command line: `seeds = 2.5` fails for an int, `seed = true` is not silently 1.
        if opt.multiple:
            items = raw if isinstance(raw, list) else [raw]
            if not items or not all(_scalar(v) for v in items):
                raise UsageError(f"{where}: key {key!r} must be a string or a list of strings, got {_show(raw)}")
            text: Any = tuple(str(v) for v in items)
        else:
            if not _scalar(raw):
                raise UsageError(f"{where}: key {key!r} must be a string or a number, got {_show(raw)}")
            text = str(raw)
        try:
            out[opt.name] = opt.type_cast_value(ctx, text)
        except click.BadParameter as exc:
            raise UsageError(f"{where}: key {key!r}: {_one_line(exc.message).rstrip('.')}") from None
    return out


def _unknown_key(where: str, key: str, keys: dict[str, click.Option]) -> UsageError:
    close = difflib.get_close_matches(key.replace("_", "-"), keys, n=1, cutoff=0.6)
    if close:
        return UsageError(f"{where}: unknown key {key!r}; did you mean {close[0]!r}?")
    allowed = sorted({_primary_key(opt) for opt in keys.values()})
    return UsageError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _primary_key(opt: click.Option) -> str:
    """The key to suggest: the long option name (`fail-on`), else the parameter name."""
    return next((o[2:] for o in opt.opts if o.startswith("--")), opt.name).replace("_", "-")


def _scalar(value: Any) -> bool:
    # bool is an int subclass; a TOML true is never an option's text.
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _show(value: Any) -> str:
    """A value as the user wrote it, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return _one_line(repr(value))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
