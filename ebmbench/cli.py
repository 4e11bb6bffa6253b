"""The `ebmbench` command line (click + rich).

Exit codes: 0 success; 1 a cell ended in `error` (or a status named by --fail-on);
2 bad usage or input (one line on stderr, no traceback); 130 interrupted.
Heavy libraries (torch, pandas) are imported inside commands, so `--help` is fast.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import click

from ebmbench._version import __version__
from ebmbench.config import apply_config
from ebmbench.errors import UsageError

__all__ = ["cli", "main"]

KIND_NAMES = ("tasks", "models", "methods", "samplers", "metrics", "executors", "suites")


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


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
    from ebmbench.registry import LoadConfig, load_registry

    disabled = []
    for flag in plugin_flags:
        if not flag.startswith("no:") or len(flag) == 3:
            raise UsageError(f"-p expects no:NAME to block a plugin, got {flag!r}")
        disabled.append(flag[3:])
    return load_registry(LoadConfig.from_env(tuple(disabled), tuple(plugins_dir), strict_plugins))


class _Group(click.Group):
    """Bad usage is one line on stderr and exit code 2, never a traceback or usage dump."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        # The command line run.json records: the args given (main(argv), tests), else sys.argv.
        self.invocation = ["ebmbench", *(sys.argv[1:] if args is None else args)]
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except UsageError as exc:
            click.echo(f"ebmbench: error: {exc}", err=True)
            sys.exit(2)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `ebmbench`: just the help
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.UsageError as exc:
            click.echo(f"ebmbench: error: {exc.format_message()}", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            click.echo(f"ebmbench: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ebmbench")
def cli():
    """ebmbench: compare training methods of energy-based models on common tasks."""


# ------------------------------------------------------------------------- list
@cli.command("list")
@click.argument("kind", required=False, type=click.Choice(KIND_NAMES))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("-l", "--long", "long_", is_flag=True, help="Also show parameters and the providing plugin.")
@plugin_options
def list_cmd(kind, as_json, long_, **load):
    """List registered tasks, models, methods, samplers and metrics.

    The source column is the paper or formula each entry follows."""
    registry = _load(**load)
    kinds = [kind] if kind else list(KIND_NAMES)
    data = {k: [registry.get(k, n).describe() for n in registry.names(k)] for k in kinds}
    if as_json:
        click.echo(json.dumps(data if not kind else data[kind], indent=2, default=str))
        return
    from rich.table import Table
    from rich.text import Text

    console = _console()
    columns = {
        "tasks": ("kind", "dim", "main_metric", "ground_truth"),
        "models": ("family", "task_kinds", "latent"),
        "methods": ("family", "model_families", "task_kinds"),
        "samplers": (),
        "metrics": ("direction", "task_kinds", "requires"),
        "executors": (),
        "suites": ("suite_version", "profile"),
    }
    for k in kinds:
        table = Table(title=f"{k} ({len(data[k])})", title_justify="left")
        # the source (paper) is what a reader of a benchmark table asks first; parameters
        # and provider make the table too wide for a terminal, so they wait for --long
        extra = ("params", "provider") if long_ else ()
        for col in ("name", *columns[k], "source", *extra, "summary"):
            table.add_column(col, overflow="fold")
        for e in data[k]:
            vals = []
            for col in columns[k]:
                v = e[col]
                if col == "direction":
                    v = {"higher": "higher is better ↑", "lower": "lower is better ↓"}.get(v, "reported, not ranked")
                vals.append(", ".join(map(str, v)) if isinstance(v, list) else str(v))
            params = ", ".join(f"{p}={d['default']}" for p, d in e["params"].items())
            provider = f"{e['plugin']} ({e['dist'] or 'local'} {e['version'] or ''})".replace(" )", ")")
            extra = (params, provider) if long_ else ()
            cells = (e["name"], *vals, e.get("reference") or "", *extra, e["summary"])
            table.add_row(*(Text(str(v)) for v in cells))
        console.print(table)


# ---------------------------------------------------------------------- plugins
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

    table = Table(title=f"plugins ({len(data)})", title_justify="left")
    for col in ("name", "dist", "version", "status", "entries", "error"):
        table.add_column(col, overflow="fold")
    style = {"loaded": "green", "failed": "red", "blocked": "yellow"}
    for p in data:
        table.add_row(
            Text(p["name"]),
            Text(p["dist"] or "local"),
            Text(p["version"] or ""),
            Text(p["status"], style=style[p["status"]]),
            Text(", ".join(p["entries"])),
            Text(p["error"] or ""),
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
    default="nll_grid",
    show_default=True,
    help="Metrics measured on the val split during training (the profile sets how often); comma-separated, or none.",
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
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="Results root; runs go to OUT/runs/<run_id>/.",
)
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
    default="error",
    show_default=True,
    help="Statuses that make the exit code 1: any of error,diverged,timeout.",
)
@click.option("--no-report", is_flag=True, help="Skip the report (figures, report.html) after the run.")
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
    **load,
):
    """Run the benchmark grid: tasks x compatible (model, method) pairs x seeds.

    Cells already computed under --out with the same code, parameters and seeds are
    reused (see --force); --resume continues an interrupted run."""
    from ebmbench.execution.plan import RunConfig, plan, plan_suite, selections_from_json
    from ebmbench.results.runs import find_run, load_meta
    from ebmbench.results.schema import FAILED_STATUSES
    from ebmbench.runner import mark_dead_runs

    # `error` (a plugin bug) always fails the command; --fail-on adds result statuses.
    fail_statuses = {"error"} | {s.strip() for s in fail_on.split(",") if s.strip()}
    bad = fail_statuses - set(FAILED_STATUSES)
    if bad:
        raise UsageError(f"--fail-on accepts error, diverged, timeout; got {', '.join(sorted(bad))}")
    if pdb and executor != "serial":
        raise UsageError("--pdb needs --executor serial (a debugger cannot reach a worker process)")
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
        curve_names = tuple(n for n in _names(curve_metrics) if n != "none")
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
    mark_dead_runs(Path(out), warn)
    outcome = _run_with_progress(registry, cfg, cells, resume_dir, warn)
    store = outcome.store
    _print_run(store.dir)
    reused = f" ({outcome.n_cached} reused from earlier runs)" if outcome.n_cached else ""
    _console().print(f"results: {store.dir}{reused}")
    if not no_report:
        _report_after_run(store.dir, _console())
    failing = [s for s in outcome.statuses if s in fail_statuses]
    sys.exit(1 if failing else 0)


def _option(ctx, name: str) -> str:
    param = next(p for p in ctx.command.params if p.name == name)
    return max(param.opts, key=len)


def _warner():
    return lambda msg: click.echo(f"ebmbench: warning: {msg}", err=True)


def _run_with_progress(registry, cfg, cells, resume_dir, warn):
    """execute() under a progress bar; interrupts and failed writes end in one line."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ebmbench.results.store import StoreError
    from ebmbench.runner import RunInterrupted, execute

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=_console(),
        transient=False,
    )
    state: dict = {}

    def on_start(store, n_compute):
        state["store"] = store
        runnable = sum(c.skip_reason is None for c in cells)
        state["bar"] = progress.add_task("cells", total=runnable, last="")

    def on_cell(row):
        if row["status"] != "skipped" and "bar" in state:
            last = escape(f"{row['task']} {row['label']} #{row['rep']}: {row['status']}")
            progress.update(state["bar"], advance=1, last=last)

    try:
        with progress:
            return execute(registry, cfg, cells, resume=resume_dir, on_start=on_start, on_cell=on_cell, warn=warn)
    except (KeyboardInterrupt, RunInterrupted) as exc:
        code = exc.exit_code if isinstance(exc, RunInterrupted) else 130
        store = state.get("store")
        if store is None:
            click.echo("interrupted before the run started", err=True)
            sys.exit(code)
        click.echo(
            f"interrupted ({signal_name(code)}); finished cells are kept in {store.dir}; "
            f"`ebmbench run --resume {store.run_id}` continues it, `ebmbench report {store.run_id}` "
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
def _print_run(run_dir: Path) -> None:
    from ebmbench.show import render_run

    render_run(run_dir, console=_console())


@cli.command("show")
@click.argument("run", required=False)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="Results root the run lives under.",
)
@click.option("-t", "--task", "only_task", default=None, help="Only this task.")
@click.option("--metric", default=None, help="Pivot of this metric (or several, comma-separated): methods x tasks.")
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
def show_cmd(run, out, only_task, metric, fmt, digits):
    """Print a run's tables (the latest run by default)."""
    from ebmbench.results.runs import find_run
    from ebmbench.show import render_run

    text = render_run(find_run(Path(out), run, _warner()), only_task, metric, fmt, console=_console(), digits=digits)
    if text is not None:
        click.echo(text, nl=not text.endswith("\n"))


# ----------------------------------------------------------------------- report
def _report_after_run(run_dir: Path, console) -> None:
    from ebmbench.report import after_run  # matplotlib and seaborn load only here

    after_run(run_dir, console)


@cli.command("report")
@click.argument("run", required=False)
@click.option(
    "--out",
    "-o",
    "output",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the report to DIR (default: the run's folder).",
)
@click.option(
    "--root",
    "root",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="Results root RUN lives under (RUN may also be a run folder's path).",
)
@click.option(
    "--format",
    "fmt",
    default="html",
    show_default=True,
    type=click.Choice(["html", "md"]),
    help="html: report.html with figures and tables; md: a compact report.md, also printed.",
)
def report_cmd(run, root, output, fmt):
    """Write a run's report: figures, tables and report.html (the latest run by default)."""
    from ebmbench.report import build_report
    from ebmbench.results.runs import find_run

    formats = ("md",) if fmt == "md" else ("html", "md")
    result = build_report(find_run(Path(root), run, _warner()), output, formats=formats)
    for problem in result.problems:
        click.echo(f"report: a figure failed: {problem.splitlines()[0]}", err=True)
    if fmt == "md":
        click.echo(result.markdown.read_text(), nl=False)
        return
    click.echo(f"report: {result.html} ({len(result.figures)} figures, {result.seconds:.1f} s)")


# ------------------------------------------------------------------------- compare
_root_option = click.option(
    "--root",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="Results root: run ids are looked up in ROOT/runs.",
)


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
@_root_option
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
@click.option("--all-rows", is_flag=True, help="Also show unchanged rows.")
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "md", "json"]),
    help="table for a terminal, md for a CI job summary, json for machines.",
)
def compare_cmd(baseline, current, root, metrics, rel_tol, abs_tol, tols, alpha, all_rows, fmt):
    """Did CURRENT get worse than BASELINE? Exit 1 on a regression, 0 otherwise.

    Each side is a run id or folder, a results .parquet or a baseline .json
    (`ebmbench baseline save`); CURRENT defaults to the latest run under --root.
    A change is a regression only when it is outside the tolerance band AND supported
    over seeds (paired: t-test and bootstrap CI; unpaired: Mann-Whitney, >= 4 seeds a
    side), with Holm's correction over every compared cell and metric."""
    from ebmbench.compare_view import render_json, render_markdown, render_table
    from ebmbench.results.baseline import load_side
    from ebmbench.results.compare import CompareConfig, compare_sides, has_regression

    warn = _warner()
    base = load_side(baseline, Path(root), warn)
    cur = load_side(current, Path(root), warn) if current else load_side_latest(Path(root), warn)
    names = _names(*metrics)
    config = CompareConfig(rel_tol=rel_tol, abs_tol=abs_tol, alpha=alpha, metrics=names or None)
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
@_root_option
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Where baselines go (default: ROOT/baselines).",
)
@click.option("--metric", "metrics", multiple=True, help="Metrics to keep (default: each task's main metric).")
def baseline_save_cmd(run, name, root, directory, metrics):
    """Save RUN (the latest by default) as a baseline file, small enough to commit."""
    import re

    from ebmbench.results.baseline import build_baseline, write_baseline
    from ebmbench.results.runs import find_run, load_meta, read_results

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UsageError(f"--name must be letters, digits, '.', '_' or '-' (a file name), got {name!r}")
    run_dir = find_run(Path(root), run, _warner())
    meta = load_meta(run_dir)
    if meta.get("status") != "finished":
        raise UsageError(f"run {run_dir.name} is {meta.get('status')}: a baseline needs a finished run")
    doc = build_baseline(read_results(run_dir), meta, name, list(_names(*metrics)) or None)
    folder = Path(directory) if directory else Path(root) / "baselines"
    path = write_baseline(doc, folder / f"{name}.json")
    n_values = sum(len(c["values"]) for c in doc["cells"])
    click.echo(f"baseline {name}: {path} ({len(doc['cells'])} cells, {n_values} values, run {run_dir.name})")


# ------------------------------------------------------------------------- history
@cli.command("history")
@click.option("-t", "--task", "tasks", multiple=True, help="Only these tasks (comma-separated or repeated).")
@click.option("--metric", "metrics", multiple=True, help="Metrics to follow (default: each task's main metric).")
@_root_option
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
def history_cmd(tasks, metrics, root, plot_path, fmt, **load):
    """Every stored run, oldest first, with its commit and date: how a metric moved."""
    from ebmbench.report.history import gather_history, history_table, plot_history

    registry = _load(**load)
    main = {n: registry.get("tasks", n).cls.main_metric for n in registry.names("tasks")}
    directions = {n: registry.get("metrics", n).cls.direction for n in registry.names("metrics")}
    frame = gather_history(Path(root), _names(*tasks) or None, _names(*metrics) or None, _warner(), main)
    if frame.empty:
        raise UsageError(f"no done cells under {Path(root) / 'runs'} match; start one with `ebmbench run`")
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

            out = Table(title=f"history of {Path(root) / 'runs'} ({frame['run_id'].nunique()} runs)")
            for col in table.columns:
                out.add_column(str(col), overflow="fold")
            for row in table.itertuples(index=False):
                out.add_row(*(str(v) for v in row))
            _console().print(out)
    if plot_path:
        metric = frame["metric"].iloc[0] if frame["metric"].nunique() == 1 else None
        path = plot_history(frame, metric, Path(plot_path), directions)
        click.echo(f"plot: {path}", err=True)


# ------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="ebmbench")


if __name__ == "__main__":
    main()
