"""The `ebmbench` command line (click + rich).

Exit codes: 0 success; 1 a cell ended in `error` or a metric raised (or a status named by --fail-on);
2 bad usage or input (one line on stderr, no traceback); 130 interrupted.
Heavy libraries (torch, pandas) are imported inside commands, so `--help` is fast.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from pathlib import Path

import click

from ebmbench._version import __version__
from ebmbench.config import apply_config
from ebmbench.errors import UsageError, shown_path, strip_control

__all__ = ["cli", "main"]

KIND_NAMES = ("tasks", "models", "methods", "samplers", "metrics", "executors", "suites")
PROGRESS_MODES = ("auto", "rich", "plain", "json")  # ebmbench.execution.progress.MODES, without its import


def _console(stderr: bool = False):
    return _console_class()(stderr=stderr, highlight=False, soft_wrap=False)


@functools.cache
def _console_class():
    """rich's Console, except that a closed pipe raises BrokenPipeError (rich itself exits 1,
    silently) so that the CLI ends such a command quietly with exit 0 (see _Group)."""
    from rich.console import Console

    class PipeAwareConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more from this console
            raise BrokenPipeError("stdout closed")

    return PipeAwareConsole


def plugin_options(f):
    """Loading controls shared by every command that loads plugins."""
    f = click.option(
        "-p",
        "plugin_flags",
        multiple=True,
        metavar="no:NAME",
        help="Block plugin NAME (repeatable); also EBMBENCH_DISABLE_PLUGINS=a,b.",
    )(f)
    f = click.option(
        "--plugins-dir",
        multiple=True,
        type=click.Path(file_okay=False),
        help="Load plain .py plugin files from DIR; also EBMBENCH_PLUGINS_DIR.",
    )(f)
    f = click.option(
        "--strict-plugins", is_flag=True, help="A plugin that fails to load is fatal; also EBMBENCH_STRICT_PLUGINS=1."
    )(f)
    return f


def _load(plugin_flags, plugins_dir, strict_plugins):
    import difflib

    from ebmbench.registry import LoadConfig, load_registry

    disabled = []
    for flag in plugin_flags:
        if not flag.startswith("no:") or len(flag) == 3:
            raise UsageError(f"-p expects no:NAME to block a plugin, got {flag!r}")
        disabled.append(flag[3:])
    registry = load_registry(LoadConfig.from_env(tuple(disabled), tuple(plugins_dir), strict_plugins))
    names = [p.name for p in registry.plugins]
    for name in disabled:  # a typo would block nothing, silently
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "`ebmbench plugins` lists them"
            raise UsageError(f"-p no:{name}: no plugin is named {name!r}; {hint}")
    return registry


def _plugin_warnings(registry) -> None:
    """One line on stderr per plugin that failed, was blocked or registered nothing (a
    forgotten @ebmbench.hookimpl): what `run` and `list` show may lack its entries."""
    warn = _warner()
    for p in registry.plugins:
        if p.status == "failed":
            warn(f"plugin {p.name!r} failed to load, its entries are missing: {p.error} (`ebmbench plugins`)")
        elif p.status == "blocked":
            warn(f"plugin {p.name!r} is blocked (-p no:{p.name} or EBMBENCH_DISABLE_PLUGINS)")
        elif not p.entries:
            warn(f"plugin {p.name!r} registered nothing: are its hooks marked @ebmbench.hookimpl?")
    for kind, clashes in registry.clashes.items():
        for name, providers in sorted(clashes.items()):
            qualified = " or ".join(f"{p}:{name}" for p in providers)
            by = ", ".join(map(repr, providers))
            warn(f"{kind[:-1]} {name!r} is registered by plugins {by}: name it {qualified}")
    for problem in registry.task_problems():
        warn(problem)


# ------------------------------------------------------------- the results root
LAST_RUN: dict[str, Path] = {}  # the folder of the last run this process made (ebmbench.api)
OUT_ENV = "EBMBENCH_OUT"
OUT_HELP = "Results root: runs live in DIR/runs/<run_id>/."


class _AliasedOption(click.Option):
    """An option whose deprecated spellings still parse but are left out of --help:
    old scripts keep working while the help shows one name per meaning."""

    def __init__(self, *args, hidden_aliases: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_aliases = tuple(hidden_aliases)

    def get_help_record(self, ctx):
        shown = [o for o in self.opts if o not in self.hidden_aliases]
        saved, self.opts = self.opts, shown
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = saved


class OutOption(_AliasedOption):
    """`--out`, the results root, on every command that reads or writes runs."""


def _out_param(*aliases: str) -> OutOption:
    """The shared --out option (also EBMBENCH_OUT, so a shell can set the root once for
    every command and every folder). `aliases` are hidden, deprecated spellings that meant
    the same thing before (`--root` of report, compare, baseline save and history)."""
    return OutOption(
        ["--out", *aliases, "out"],
        hidden_aliases=aliases,
        type=click.Path(file_okay=False),
        metavar="DIR",
        default="results",
        show_default=True,
        envvar=OUT_ENV,
        show_envvar=True,
        help=OUT_HELP,
    )


def out_option(*aliases: str):
    """Decorator: the command takes the shared --out (see `_out_param`)."""

    def decorate(f):
        f.__click_params__ = [*getattr(f, "__click_params__", []), _out_param(*aliases)]
        return f

    return decorate


def _share_out_option(group: click.Group) -> None:
    """Give every command that declares its own `--out` the shared one in its place.

    A command written with a plain `--out` (show) would otherwise miss EBMBENCH_OUT and
    could drift to another meaning; a test checks the result over every command."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _share_out_option(command)
            continue
        for i, param in enumerate(command.params):
            if param.name == "out" and not isinstance(param, OutOption):
                command.params[i] = _out_param(*(o for o in param.opts if o != "--out"))


def _nonempty(ctx: click.Context, *names: str) -> None:
    """An option given only empty names (`-t ""`) is a mistake, not "all" or "nothing":
    say which option, instead of an error about the grid it would have made."""
    for name in names:
        values = ctx.params.get(name)
        if values and not _names(*values):
            param = next(p for p in ctx.command.params if p.name == name)
            kind = param.name if param.name.endswith("s") else f"{param.name}s"
            raise UsageError(f"{'/'.join(param.opts)} is empty: name at least one (see `ebmbench list {kind}`)")


class _PipeClosed(Exception):
    """A BrokenPipeError inside a command, carried past click (which would exit 1 silently)."""

    def __init__(self, stdout_closed: bool, message: str):
        super().__init__(message)
        self.stdout_closed = stdout_closed


def _stdout_closed() -> bool:
    """True when the reader of stdout has gone (`ebmbench show | head -1`).

    Asked of the descriptor itself (POLLERR on a pipe whose reader closed), so that a broken
    pipe to a worker process is not mistaken for one and reported as success. Where there is
    no descriptor to ask (a test runner's buffer, no poll()), the exception is believed."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
    except (AttributeError, OSError, ValueError):
        return True
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _mute_stdout() -> None:
    """Send the rest of stdout to devnull (what the Python docs advise after a broken pipe):
    the buffered lines would otherwise fail again at exit, with a message and exit code 120."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - until exit; no descriptor (a test runner's buffer)


def _flush_stdout() -> bool:
    """Flush stdout now, inside the guard; False if its pipe has closed (then muted)."""
    try:
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        _mute_stdout()
        return False


def _error(message: str, code: int) -> None:
    """One line on stderr, without terminal control sequences (messages quote plugin text)."""
    click.echo(f"ebmbench: error: {strip_control(message)}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Bad usage is one line on stderr and exit code 2, never a traceback or usage dump.

    A closed stdout (`ebmbench show | head -1`) ends the command quietly with exit 0: the
    reader has what it wanted. If the command had already decided its exit code when the
    pipe closed (the last lines were still buffered), that code stays."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _PipeClosed(_stdout_closed(), str(exc)) from exc

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        # The command line run.json records: the args given (main(argv), tests), else sys.argv.
        self.invocation = ["ebmbench", *(sys.argv[1:] if args is None else args)]
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            self._main(args, prog_name, complete_var, **extra)
        except SystemExit:
            _flush_stdout()  # a pipe closed under the last lines: keep the code, say nothing
            raise

    def _main(self, args, prog_name, complete_var, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except _PipeClosed as exc:
            if not exc.stdout_closed:  # some other pipe (a worker's): a real failure
                _error(f"broken pipe: {exc}", 1)
            _mute_stdout()
            sys.exit(0)
        except UsageError as exc:
            _error(str(exc), 2)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `ebmbench`: just the help
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.UsageError as exc:
            _error(exc.format_message(), 2)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            _error(exc.format_message(), exc.exit_code)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ebmbench")
def cli():
    """ebmbench: compare training methods of energy-based models on common tasks."""


# ------------------------------------------------------------------------- list
@cli.command("list")
@click.argument("kind", required=False, type=click.Choice(KIND_NAMES))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables (= --format json).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "md", "json"]),
    default="table",
    show_default=True,
    help="md: the catalog page (docs/catalog.md) with every parameter and source paper.",
)
@click.option("-l", "--long", "long_", is_flag=True, help="Also show parameters and the providing plugin.")
@plugin_options
def list_cmd(kind, as_json, fmt, long_, **load):
    """List registered tasks, models, methods, samplers and metrics.

    The source column is the paper or formula each entry follows."""
    registry = _load(**load)
    _plugin_warnings(registry)
    kinds = [kind] if kind else list(KIND_NAMES)
    data = {k: [registry.get(k, n).describe() for n in registry.names(k)] for k in kinds}
    if fmt == "md":
        from ebmbench.catalog import catalog_markdown

        click.echo(catalog_markdown(data), nl=False)
        return
    if as_json or fmt == "json":
        click.echo(json.dumps(data if not kind else data[kind], indent=2, default=str))
        return
    console = _console()
    columns = {
        "tasks": ("kind", "main_metric", "dim", "ground_truth"),
        "models": ("family", "task_kinds", "latent"),
        "methods": ("family", "model_families", "task_kinds"),
        "samplers": (),
        "metrics": ("direction", "task_kinds", "requires"),
        "executors": (),
        "suites": ("suite_version", "profile"),
    }
    for k in kinds:
        _print_listing(console, k, data[k], columns[k], long_)


def _list_cells(e: dict, columns: tuple[str, ...], long_: bool) -> dict[str, str]:
    """One entry's cells for `ebmbench list`, by column."""
    cells = {"name": e["name"]}
    for col in columns:
        v = e[col]
        if col == "direction":
            v = {"higher": "higher is better ↑", "lower": "lower is better ↓"}.get(v, "reported, not ranked")
        cells[col] = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    cells["source"] = e.get("reference") or ""
    if long_:
        cells["params"] = ", ".join(f"{p}={d['default']}" for p, d in e["params"].items())
        cells["provider"] = f"{e['plugin']} ({e['dist'] or 'local'} {e['version'] or ''})".replace(" )", ")")
    cells["summary"] = e["summary"]
    return cells


def _print_listing(console, kind: str, entries: list[dict], columns: tuple[str, ...], long_: bool) -> None:
    """One kind's table fitted to the console: a name is never broken (one line, full
    width), the short metadata columns wrap only between words, and source, summary
    (and --long's params, provider) are cut with an ellipsis, or dropped whole when even
    that does not fit: provider, params and source first, the summary after the
    first two metadata columns."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ebmbench.show import fit_widths

    # the source (paper) is what a reader of a benchmark table asks first; parameters
    # and provider make the table too wide for a terminal, so they wait for --long
    cut = ("source", *(("params", "provider") if long_ else ()), "summary")
    headers = ["name", *columns, *cut]
    rows = [_list_cells(e, columns, long_) for e in entries]
    natural = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in headers}
    longest_word = {c: max([len(c), *(len(w) for r in rows for w in r[c].split())]) for c in columns}
    minimal = {"name": natural["name"], **longest_word, **{c: min(natural[c], 20) for c in cut}}
    # what an entry is (its first two metadata columns and its summary) before the rest
    priority = ["name", *columns[:2], "summary", *columns[2:], "source", *cut[1:-1]]
    widths = fit_widths(headers, priority, natural, minimal, console.width)
    table = Table(title=f"{kind} ({len(entries)})", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.pad_edge = False
    for col, width in widths.items():
        table.add_column(col, width=width, no_wrap=col not in columns, overflow="ellipsis" if col in cut else "fold")
    for r in rows:
        table.add_row(*(Text(r[c]) for c in widths))
    console.print(table)
    if len(widths) < len(headers):
        more = len(headers) - len(widths)
        console.print(Text(f"{more} more column{'s' if more > 1 else ''}: a wider terminal or --json", style="dim"))


# ---------------------------------------------------------------------- plugins
@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(("task", "model", "method", "sampler", "metric")),
    default="task",
    show_default=True,
    help="The example entry the package starts with.",
)
@click.option(
    "--dest",
    "out_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to write the new package into.",
)
def new_plugin_cmd(name, kind, out_dir):
    """Write a plugin package NAME: pyproject with the entry point, one working example,
    tests using the conformance kit, README (see ebmbench/scaffold.py)."""
    from ebmbench.scaffold import new_plugin

    target = new_plugin(name, kind, out_dir)
    click.echo(f"wrote {shown_path(target)}: pip install -e {shown_path(target)} && pytest {shown_path(target)}")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@plugin_options
def plugins_cmd(as_json, **load):
    """Show every plugin: version, status, error, hooks and entries."""
    registry = _load(**load)
    data = [p.to_json() for p in registry.plugins]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    from ebmbench.hookspecs import PLUGIN_API_VERSION

    title = f"plugins ({len(data)}) · plugin API {PLUGIN_API_VERSION}"
    table = Table(title=title, title_justify="left")
    for col in ("name", "dist", "version", "api", "status", "entries", "error"):
        table.add_column(col, overflow="fold")
    style = {"loaded": "green", "failed": "red", "blocked": "yellow"}
    for p in data:
        table.add_row(
            Text(p["name"]),
            Text(p["dist"] or "local"),
            Text(p["version"] or ""),
            Text("" if p["api_version"] is None else str(p["api_version"])),
            Text(p["status"], style=style[p["status"]]),
            Text(", ".join(p["entries"])),
            Text(strip_control(p["error"] or "")),  # a plugin's exception message
        )
    _console().print(table)


# -------------------------------------------------------------------------- run
def _names(*texts: str) -> tuple[str, ...]:
    """Names from comma-separated and/or repeated option values."""
    return tuple(n.strip() for text in texts for n in text.split(",") if n.strip())


def _selections(values):
    from ebmbench.params import parse_selection, split_selections

    if not values:
        return None
    return [sel for text in split_selections(values) for sel in parse_selection(text)]


@cli.command("run")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=apply_config,
    help="TOML file of option defaults (top-level keys or a [tool.ebmbench] table); [tool.ebmbench] in "
    "./pyproject.toml is read too. Flags given on the command line win.",
)
@click.option("--all", "run_all", is_flag=True, help="Every registered task, model and method.")
@click.option(
    "--suite",
    default=None,
    metavar="NAME",
    help="A registered suite (see `ebmbench list suites`): its tasks, models, methods, seeds and profile.",
)
@click.option("-t", "--task", "tasks", multiple=True, help="Task name(s); comma-separated or repeated.")
@click.option("-m", "--model", "models", multiple=True, help='Model(s), e.g. "mlp[hidden=64]".')
@click.option("-M", "--method", "methods", multiple=True, help='Method(s), e.g. "pcd[steps=20]"; a|b sweeps.')
@click.option("--metric", "metrics", multiple=True, help="Only these metrics (default: all applicable).")
@click.option(
    "--curve-metric",
    "curve_metrics",
    default=None,
    help="Metrics measured on the val split during training (the profile sets how often); comma-separated, "
    "or none. Default: those that declare themselves curve probes (built in: nll_grid).",
)
@click.option("--seeds", type=click.IntRange(1, 1000), default=None, help="Repetitions (profile default).")
@click.option("--seed", "base_seed", type=int, default=0, show_default=True, help="Base seed.")
@click.option(
    "--profile",
    default="quick",
    show_default=True,
    type=click.Choice(["smoke", "quick", "full"]),
    help="Budget profile.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds per cell; a cell over it is killed (with what it started) and marked timeout.",
)
@click.option(
    "--max-memory",
    "max_memory",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="GB",
    help="Resident memory per cell; a cell over it is killed and marked error.",
)
@click.option(
    "--startup-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120,
    show_default=True,
    help="Seconds a worker may take to start (imports, plugin loading) before its cell errs.",
)
@out_option()
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option(
    "--executor",
    default="process",
    show_default=True,
    help="Where cells run: process (isolated workers), serial (main process, for debugging), dask.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="--executor dask: an existing cluster's scheduler (tcp://HOST:PORT); also EBMBENCH_DASK_SCHEDULER.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 256),
    default=None,
    help="Cells side by side (default: cores, at most 4; 1 on cuda).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="torch threads per cell; results are reproducible for a fixed value.",
)
@click.option("--force", is_flag=True, help="Recompute cells whose results are already stored under --out.")
@click.option(
    "--resume",
    default=None,
    is_flag=False,
    flag_value="",
    metavar="[RUN_ID]",
    help="Continue an interrupted run in place (the latest when no id is given).",
)
@click.option("--pdb", is_flag=True, help="With --executor serial: the debugger on a failing cell.")
@click.option(
    "--fail-on",
    default="error,metric_error",
    show_default=True,
    help="What makes the exit code 1: any of error,diverged,timeout and metric_error (a metric "
    "raised; its cell stays done). error always does.",
)
@click.option("--no-report", is_flag=True, help="Skip the report (figures, report.html) after the run.")
@click.option(
    "--progress",
    default="auto",
    show_default=True,
    type=click.Choice(PROGRESS_MODES),
    help="While cells run: rich (a live bar), plain (a line per finished cell, for logs), json (a JSON "
    "object per line on stdout, for scripts; the summary goes to stderr); auto: rich on a terminal, else plain.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress: only the summary after the run, and errors.")
@plugin_options
@click.pass_context
def run_cmd(
    ctx,
    run_all,
    suite,
    tasks,
    models,
    methods,
    metrics,
    curve_metrics,
    seeds,
    base_seed,
    profile,
    timeout,
    max_memory,
    startup_timeout,
    out,
    device,
    executor,
    scheduler,
    jobs,
    threads,
    force,
    resume,
    pdb,
    fail_on,
    no_report,
    progress,
    quiet,
    **load,
):
    """Run the benchmark grid: tasks x compatible (model, method) pairs x seeds.

    Cells already computed under --out with the same code, parameters and seeds are
    reused (see --force); --resume continues an interrupted run."""
    from ebmbench.execution.plan import RunConfig, plan, plan_suite, selections_from_json
    from ebmbench.results.runs import find_run, load_meta
    from ebmbench.results.schema import FAILED_STATUSES, METRIC_ERROR
    from ebmbench.runner import mark_dead_runs

    # `error` (a plugin bug) always fails the command; --fail-on adds result statuses.
    fail_statuses = {"error"} | {s.strip() for s in fail_on.split(",") if s.strip()}
    bad = fail_statuses - {*FAILED_STATUSES, METRIC_ERROR}
    if bad:
        raise UsageError(f"--fail-on accepts error, diverged, timeout, metric_error; got {', '.join(sorted(bad))}")
    if pdb and executor != "serial":
        raise UsageError("--pdb needs --executor serial (a debugger cannot reach a worker process)")
    if quiet and ctx.get_parameter_source("progress") == click.core.ParameterSource.COMMANDLINE:
        raise UsageError(f"--quiet shows no progress; drop --progress {progress} (or --quiet)")
    _nonempty(ctx, "tasks", "models", "methods", "metrics")
    grid_options = (
        "run_all",
        "tasks",
        "models",
        "methods",
        "metrics",
        "curve_metrics",
        "seeds",
        "base_seed",
        "profile",
        "device",
        "threads",
        "suite",
    )
    if resume is not None:
        given = [p for p in grid_options if ctx.get_parameter_source(p) == click.core.ParameterSource.COMMANDLINE]
        if given:
            raise UsageError(f"--resume continues the run's own grid; drop {', '.join(_option(ctx, p) for p in given)}")
    elif suite is not None:
        clash = ("run_all", "tasks", "models", "methods", "seeds", "profile")
        given = [p for p in clash if ctx.get_parameter_source(p) == click.core.ParameterSource.COMMANDLINE]
        if given:
            drop = ", ".join(_option(ctx, p) for p in given)
            raise UsageError(f"--suite decides the grid and the profile; drop {drop}")
    elif not (run_all or tasks or models or methods):
        raise UsageError("nothing selected: pass --all or --suite NAME, or choose with -t/-m/-M")
    _check_device(device)
    registry = _load(**load)
    registry.get("executors", executor)
    if suite is not None:
        profile = registry.get("suites", suite).cls.profile
    warn = _warner()
    resume_dir = None
    if resume is not None:
        resume_dir = find_run(Path(out), resume or None, warn)
        grid = load_meta(resume_dir).get("grid")
        if not grid:
            raise UsageError(f"run {resume_dir.name} was written by an older ebmbench and cannot be resumed")
        tasks_sel, models_sel, methods_sel = (selections_from_json(grid[k]) for k in ("tasks", "models", "methods"))
        seeds, base_seed, profile, device = grid["seeds"], grid["base_seed"], grid["profile"], grid["device"]
        metric_names, curve_names, threads = tuple(grid["metrics"]), tuple(grid["curve_metrics"]), grid["threads"]
        suite = grid.get("suite")
    else:
        tasks_sel, models_sel, methods_sel = _selections(tasks), _selections(models), _selections(methods)
        metric_names = _names(*metrics)
        # None: the metrics that declare themselves curve probes (plan decides)
        curve_names = None if curve_metrics is None else tuple(n for n in _names(curve_metrics) if n != "none")
    if jobs is None:  # one single-threaded worker per core (a GPU is shared by one worker)
        jobs = 1 if device != "cpu" else max(1, min(os.cpu_count() or 1, 4))
    cfg = RunConfig(
        tasks_sel,
        models_sel,
        methods_sel,
        seeds,
        base_seed,
        profile,
        timeout,
        device,
        Path(out),
        metric_names,
        curve_metrics=curve_names,
        jobs=jobs,
        threads=threads,
        executor=executor,
        max_memory_gb=max_memory,
        startup_timeout=startup_timeout,
        scheduler=scheduler,
        force=force,
        pdb=pdb,
        suite=suite,
        argv=getattr(ctx.find_root().command, "invocation", sys.argv),
    )
    cells = plan_suite(registry, cfg) if suite else plan(registry, cfg)
    _plugin_warnings(registry)  # after planning: a usage error stays one line
    mark_dead_runs(Path(out), warn)
    reporter = _reporter(progress, quiet)
    outcome = _run_with_progress(registry, cfg, cells, resume_dir, warn, reporter)
    store = outcome.store
    reporter.end(store.run_id, str(store.dir), str(outcome.status), outcome.statuses)
    # with --progress json, stdout carries only JSON lines: the summary goes to stderr
    summary = _console(stderr=progress == "json" and not quiet)
    _print_run(store.dir, summary)
    reused = f" ({outcome.n_cached} reused from earlier runs)" if outcome.n_cached else ""
    summary.print(f"results: {shown_path(store.dir)}{reused}", markup=False)
    if not no_report:
        _report_after_run(store.dir, summary)
    failing = [s for s in outcome.statuses if s in fail_statuses]
    if outcome.metric_errors and METRIC_ERROR in fail_statuses:
        failing.append(METRIC_ERROR)
    LAST_RUN["dir"] = store.dir  # for ebmbench.api.run, which calls this command in-process
    sys.exit(1 if failing else 0)


def _reporter(progress: str, quiet: bool):
    """The progress display: rich's live bar on a terminal, plain lines otherwise (see
    ebmbench.execution.progress); `--progress rich` forces the bar even into a file."""
    from ebmbench.execution.progress import make_reporter

    isatty = sys.stdout.isatty()
    console = _console() if isatty or progress != "rich" else _forced_terminal_console()
    return make_reporter(progress, quiet, isatty, _echo_line, console)


def _forced_terminal_console():
    return _console_class()(highlight=False, soft_wrap=False, force_terminal=True)


def _echo_line(line: str) -> None:
    """One progress line, flushed at once (a pipe is block-buffered: a CI log would see
    nothing until the end). A closed pipe mutes stdout and the run goes on: its results
    are stored and its exit code still says how the cells went."""
    try:
        click.echo(line)
    except BrokenPipeError:
        _mute_stdout()


def _option(ctx, name: str) -> str:
    param = next(p for p in ctx.command.params if p.name == name)
    return max(param.opts, key=len)


def _warner():
    return lambda msg: click.echo(f"ebmbench: warning: {strip_control(msg)}", err=True)


def _run_with_progress(registry, cfg, cells, resume_dir, warn, reporter):
    """execute() under the progress display; interrupts and failed writes end in one line.

    The display counts runnable cells only: skipped (incompatible) pairs never arrive
    through on_cell, and the cells a resumed run already has are not this run's work."""
    from ebmbench.results.store import StoreError
    from ebmbench.runner import RunInterrupted, execute

    state: dict = {}
    n_skipped = sum(c.skip_reason is not None for c in cells)

    def on_start(store, n_compute, n_reused, expected=None):
        state["store"] = store
        reporter.start(store.run_id, n_compute, n_reused, n_skipped)
        if reporter.tally is not None:
            reporter.tally.expect(expected or {}, cfg.jobs)

    try:
        with reporter:
            return execute(registry, cfg, cells, resume=resume_dir, on_start=on_start, on_cell=reporter.cell, warn=warn)
    except (KeyboardInterrupt, RunInterrupted) as exc:
        code = exc.exit_code if isinstance(exc, RunInterrupted) else 130
        store = state.get("store")
        if store is None:
            click.echo("interrupted before the run started", err=True)
            sys.exit(code)
        out = _out_args(cfg.out)
        click.echo(
            f"interrupted ({signal_name(code)}); finished cells are kept in {store.dir}; "
            f"`ebmbench run --resume {store.run_id}{out}` continues it, `ebmbench report {store.run_id}{out}` "
            f"reports it",
            err=True,
        )
        sys.exit(code)
    except StoreError as exc:
        store = state.get("store")
        if store is None:  # the results root itself is unusable: bad input
            raise UsageError(f"--out: {exc}") from None
        click.echo(
            f"ebmbench: error: {exc}; run {store.run_id} is marked failed, rows already written are kept", err=True
        )
        sys.exit(1)


def _out_args(out: Path) -> str:
    """` --out OUT` for a command to paste, unless OUT is where that command looks anyway."""
    import shlex

    default = os.environ.get(OUT_ENV) or "results"
    return "" if Path(out) == Path(default) else f" --out {shlex.quote(str(out))}"


def signal_name(code: int) -> str:
    import signal

    return signal.Signals(code - 128).name if code > 128 else "interrupted"


def _check_device(device: str) -> None:
    if device == "cpu":
        return
    if not (device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        raise UsageError(f"--device must be cpu, cuda or cuda:N, got {device!r}")
    import torch

    if not torch.cuda.is_available():
        raise UsageError(f"--device {device}: torch.cuda.is_available() is False on this machine")


# ------------------------------------------------------------------------- show
def _print_run(run_dir: Path, console=None) -> None:
    from ebmbench.show import render_run

    render_run(run_dir, console=console or _console())


@cli.command("show")
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="Results root the run lives under.",
)
@click.option("-t", "--task", "only_task", default=None, help="Only this task.")
@click.option(
    "--metric",
    default=None,
    help="Pivot of this metric (or several, comma-separated): methods x tasks. A cell's cost pivots "
    "the same way: train_time_s, eval_time_s, wall_time_s, peak_mem_mb.",
)
@click.option(
    "--vs",
    default=None,
    metavar="MODEL/METHOD",
    help="With --metric: each cell is the difference to this row on the same data draws "
    "(paired by task and data seed), mean ± interval over the draws both measured.",
)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "md", "latex", "csv", "json"]),
    help="Output format.",
)
@click.option(
    "--digits",
    type=click.IntRange(1, 12),
    default=3,
    show_default=True,
    help="Significant digits of the means in tables.",
)
@click.option(
    "--all-columns",
    is_flag=True,
    help="Every metric and the training time, not only each task's headline columns "
    "(in column pages when the terminal is narrow).",
)
@click.option("--skipped", is_flag=True, help="List the skipped (task, model/method) pairs, grouped by reason.")
def show_cmd(runs, out, only_task, metric, vs, fmt, digits, all_columns, skipped):
    """Print a run's tables (the latest run by default).

    Each task's leaderboard shows rank, model/method, the main metric, the task's
    headline metrics and the status count, fitted to the terminal's width.

    Several RUNs are read as one (e.g. extra seeds or baselines run apart): a cell
    measured in more than one of them counts once, from the last one named."""
    from ebmbench.results.runs import find_run
    from ebmbench.show import render_run

    warn = _warner()
    dirs = [find_run(Path(out), run, warn) for run in runs] or [find_run(Path(out), None, warn)]
    text = render_run(
        dirs,
        only_task,
        metric,
        fmt,
        console=_console(),
        digits=digits,
        all_columns=all_columns,
        skipped=skipped,
        vs=vs,
    )
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))


# ----------------------------------------------------------------------- report
def _report_after_run(run_dir: Path, console) -> None:
    from ebmbench.report import after_run  # matplotlib and seaborn load only here

    after_run(run_dir, console)


@cli.command("report")
@click.argument("run", required=False)
@click.option(
    "--dest",
    "-o",
    "dest",
    cls=_AliasedOption,
    hidden_aliases=("-o",),
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Write the report to DIR (default: the run's folder).",
)
@out_option("--root")
@click.option(
    "--format",
    "fmt",
    default="html",
    show_default=True,
    type=click.Choice(["html", "md"]),
    help="html: report.html with figures and tables; md: a compact report.md, also printed.",
)
def report_cmd(run, out, dest, fmt):
    """Write a run's report: figures, tables and report.html (the latest run by default).

    RUN is a run id (or its prefix) under --out, or a run folder's path."""
    from ebmbench.report import build_report
    from ebmbench.results.runs import find_run

    formats = ("md",) if fmt == "md" else ("html", "md")
    result = build_report(find_run(Path(out), run, _warner()), dest, formats=formats)
    for problem in result.problems:
        click.echo(f"report: a figure failed: {strip_control(problem.splitlines()[0])}", err=True)
    if fmt == "md":
        click.echo(result.markdown.read_text(), nl=False)
        return
    click.echo(f"report: {shown_path(result.html)} ({len(result.figures)} figures, {result.seconds:.1f} s)")


# ------------------------------------------------------------------------- compare
def _tolerances(values: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """--tol METRIC=REL[,ABS] (repeatable) as {metric: (rel, abs)}."""
    out = {}
    for text in values:
        metric, sep, nums = text.partition("=")
        parts = nums.split(",") if sep else []
        try:
            values = [float(p) for p in parts] if 1 <= len(parts) <= 2 else [-1.0]
            rel, abs_ = values[0], values[1] if len(values) == 2 else 0.0
        except ValueError:
            rel = abs_ = -1.0
        if not (math.isfinite(rel) and math.isfinite(abs_)):
            rel = abs_ = -1.0
        if not metric.strip() or rel < 0 or abs_ < 0:
            raise UsageError(f"--tol expects METRIC=REL or METRIC=REL,ABS with numbers >= 0, got {text!r}")
        out[metric.strip()] = (rel, abs_)
    return out


@cli.command("compare")
@click.argument("baseline")
@click.argument("current", required=False)
@out_option("--root")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="Metrics to judge (comma-separated or repeated; default: each task's main metric, plus the status).",
)
@click.option("--rel-tol", type=click.FloatRange(min=0), default=0.05, show_default=True, help="Relative band.")
@click.option("--abs-tol", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Absolute band.")
@click.option("--tol", "tols", multiple=True, metavar="METRIC=REL[,ABS]", help="A metric's own band (repeatable).")
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Family-wise error rate (Holm).",
)
@click.option(
    "--across-code-changes",
    is_flag=True,
    help="Compare even where a task's or metric's code changed (a refactor): noted, not incomparable.",
)
@click.option("--all-rows", is_flag=True, help="Also show unchanged rows.")
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "md", "json"]),
    help="table for a terminal, md for a CI job summary, json for machines.",
)
@click.pass_context
def compare_cmd(
    ctx, baseline, current, out, metrics, rel_tol, abs_tol, tols, alpha, across_code_changes, all_rows, fmt
):
    """Did CURRENT get worse than BASELINE? Exit 1 on a regression, 0 otherwise.

    Each side is a run id or folder, a results .parquet or a baseline .json
    (`ebmbench baseline save`); CURRENT defaults to the latest run under --out.
    A change is a regression only when it is outside the tolerance band AND supported
    over seeds (paired: t-test and bootstrap CI; unpaired: Mann-Whitney, >= 4 seeds a
    side), with Holm's correction over every compared cell and metric."""
    from ebmbench.compare_view import render_json, render_markdown, render_table
    from ebmbench.results.baseline import load_side
    from ebmbench.results.compare import CompareConfig, compare_sides, has_regression

    _nonempty(ctx, "metrics")
    warn = _warner()
    base = load_side(baseline, Path(out), warn)
    cur = load_side(current, Path(out), warn) if current else load_side_latest(Path(out), warn)
    names = _names(*metrics)
    config = CompareConfig(
        rel_tol=rel_tol,
        abs_tol=abs_tol,
        alpha=alpha,
        metrics=names or None,
        across_code_changes=across_code_changes,
    )
    table = compare_sides(base, cur, config, _tolerances(tols))
    if fmt == "json":
        click.echo(render_json(table, base.name, cur.name, all_rows=True))
    elif fmt == "md":
        click.echo(render_markdown(table, base.name, cur.name, all_rows), nl=False)
    else:
        render_table(table, base.name, cur.name, _console(), all_rows)
    sys.exit(1 if has_regression(table) else 0)


def load_side_latest(root: Path, warn):
    from ebmbench.results.baseline import load_side
    from ebmbench.results.runs import find_run

    return load_side(str(find_run(root, None, warn)), root, warn)


# ------------------------------------------------------------------------- baseline
@cli.group("baseline")
def baseline_group():
    """Baseline files: a run's compared values, committed and compared against in CI."""


@baseline_group.command("save")
@click.argument("run", required=False)
@click.option("--name", required=True, help="Baseline name: writes DIR/NAME.json.")
@out_option("--root")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Where baselines go (default: baselines/ under --out).",
)
@click.option("--metric", "metrics", multiple=True, help="Metrics to keep (default: each task's main metric).")
@click.pass_context
def baseline_save_cmd(ctx, run, name, out, directory, metrics):
    """Save RUN (the latest by default) as a baseline file, small enough to commit."""
    import re

    from ebmbench.results.baseline import build_baseline, write_baseline
    from ebmbench.results.runs import find_run, load_meta, read_results

    _nonempty(ctx, "metrics")

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UsageError(f"--name must be letters, digits, '.', '_' or '-' (a file name), got {name!r}")
    run_dir = find_run(Path(out), run, _warner())
    meta = load_meta(run_dir)
    if meta.get("status") != "finished":
        raise UsageError(f"run {run_dir.name} is {meta.get('status')}: a baseline needs a finished run")
    doc = build_baseline(read_results(run_dir), meta, name, list(_names(*metrics)) or None)
    folder = Path(directory) if directory else Path(out) / "baselines"
    path = write_baseline(doc, folder / f"{name}.json")
    n_values = sum(len(c["values"]) for c in doc["cells"])
    click.echo(f"baseline {name}: {path} ({len(doc['cells'])} cells, {n_values} values, run {run_dir.name})")


# ------------------------------------------------------------------------- history
@cli.command("history")
@click.option("-t", "--task", "tasks", multiple=True, help="Only these tasks (comma-separated or repeated).")
@click.option("--metric", "metrics", multiple=True, help="Metrics to follow (default: each task's main metric).")
@out_option("--root")
@click.option(
    "--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Also write the plot (PNG and SVG)."
)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "md", "csv", "json"]),
    help="table: runs x (task, model/method), mean [95 % CI]; csv/json: the long frame, one row per run and cell.",
)
@plugin_options
@click.pass_context
def history_cmd(ctx, tasks, metrics, out, plot_path, fmt, **load):
    """Every stored run, oldest first, with its commit and date: how a metric moved."""
    from ebmbench.report.history import gather_history, history_table, plot_history

    _nonempty(ctx, "tasks", "metrics")
    root = Path(out)
    registry = _load(**load)
    main = {n: registry.get("tasks", n).cls.main_metric for n in registry.names("tasks")}
    directions = {n: registry.get("metrics", n).cls.direction for n in registry.names("metrics")}
    frame = gather_history(root, _names(*tasks) or None, _names(*metrics) or None, _warner(), main)
    if frame.empty:
        raise UsageError(f"no done cells under {root / 'runs'} match; start one with `ebmbench run`")
    if fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(frame.to_json(orient="records", date_format="iso", indent=2))
    else:
        table = history_table(frame)
        if fmt == "md":
            click.echo(table.to_markdown(index=False))
        else:
            from rich.table import Table

            view = Table(title=f"history of {root / 'runs'} ({frame['run_id'].nunique()} runs)")
            for col in table.columns:
                view.add_column(str(col), overflow="fold")
            for row in table.itertuples(index=False):
                view.add_row(*(str(v) for v in row))
            _console().print(view)
    if plot_path:
        metric = frame["metric"].iloc[0] if frame["metric"].nunique() == 1 else None
        path = plot_history(frame, metric, Path(plot_path), directions)
        click.echo(f"plot: {path}", err=True)


_share_out_option(cli)


# ------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="ebmbench")


if __name__ == "__main__":
    main()
