"""The Python API for notebooks and scripts, on the very code path of the command line:
`run` is `ebmbench run` called in-process (the same validation, planning, seeding,
executors, store and cache), and it returns the run's rows as a pandas DataFrame.

    import ebmbench
    df = ebmbench.run(tasks="8gaussians", methods=["pcd", "dsm[sigma=0.1]"], seeds=3, profile="smoke")
    df = ebmbench.load()                      # the latest run under results/, or a run id / folder

A bad name or value raises `ebmbench.errors.UsageError` with the one line the CLI prints;
cells that fail are rows with their status, as on the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["run", "load"]


def _names(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def run(
    tasks: str | Iterable[str] | None = None,
    models: str | Iterable[str] | None = None,
    methods: str | Iterable[str] | None = None,
    seeds: int | None = None,
    profile: str = "quick",
    *,
    all: bool = False,  # noqa: A002 - the CLI's --all
    suite: str | None = None,
    metrics: str | Iterable[str] | None = None,
    out: str | Path = "results",
    jobs: int | None = None,
    executor: str | None = None,
    force: bool = False,
    report: bool = False,
    quiet: bool = True,
    args: Iterable[str] = (),
):
    """Run a grid like `ebmbench run` and return its rows (one per cell, skipped pairs
    included; `df.attrs["run_dir"]` is the run's folder). Names take the CLI's syntax
    ("pcd[steps=20]", "dsm[sigma=0.05|0.1]"); `args` passes any other `run` option."""
    from ebmbench import cli

    argv = ["run", "--out", str(out)]
    for flag, value in (("-t", tasks), ("-m", models), ("-M", methods), ("--metric", metrics)):
        for name in _names(value):
            argv += [flag, name]
    if suite is None:
        argv += ["--profile", profile]
    argv += ["--all"] * all + (["--suite", suite] if suite else [])
    argv += ["--seeds", str(seeds)] if seeds is not None else []
    argv += ["--jobs", str(jobs)] if jobs is not None else []
    argv += ["--executor", executor] if executor else []
    argv += ["--force"] * force + ["--no-report"] * (not report) + ["--quiet"] * quiet + list(args)
    cli.LAST_RUN.clear()
    try:
        cli.cli.main(argv, standalone_mode=False)
    except SystemExit as exc:  # 1: some cell failed; its row says how
        if exc.code not in (0, 1, None) or "dir" not in cli.LAST_RUN:
            raise
    return load(cli.LAST_RUN["dir"])


def load(run: str | Path | list | tuple | None = None, out: str | Path = "results"):
    """A stored run's rows as a DataFrame: `run` is a run id, an id prefix or a run
    folder (default: the latest readable run under `out`). `df.attrs` holds "run_dir"
    and "meta" (run.json). A list of runs is read as one, as `ebmbench show A B` reads
    them (a cell in several counts once, from the last named): "run_dirs" and the merged
    "meta"."""
    from ebmbench.results.combine import load_runs
    from ebmbench.results.runs import find_run

    several = isinstance(run, list | tuple)
    dirs = [find_run(Path(out), None if r is None else str(r)) for r in (run if several else [run])]
    meta, df = load_runs(dirs)  # one run: its own run.json and every column, as stored
    if several:
        df.attrs["run_dirs"] = [str(d) for d in dirs]
    else:
        df.attrs["run_dir"] = str(dirs[0])
    df.attrs["meta"] = meta
    return df
