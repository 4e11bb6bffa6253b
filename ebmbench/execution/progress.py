"""What `ebmbench run` shows while its cells finish (`--progress`, `--quiet`).

* rich: a live bar, for a terminal;
* plain: one line per finished cell, for CI logs and files (`run > log.txt`): a job with a
  no-output timeout sees the run alive, and a reader of the log sees every failure.
  When cells finish faster than one per `MIN_INTERVAL_S`, lines are merged (the next
  line says how many more finished); failures and the last cell always get their line;
* json: one JSON object per line, for scripts: a `start` event, one `cell` event per
  finished cell, an `end` event;
* quiet: nothing while the run goes; the summary after it is printed as usual.

Every mode counts the cells that run -- computed now or reused from an earlier run --
and never the incompatible pairs that are skipped (a grid of 2 102 pairs may run 364
cells). The time left is estimated from the cells computed now: reused cells arrive in
a burst at the start and would make any rate meaningless.

Plugin text (a failing cell's reason) is stripped of terminal control sequences here
too, whatever the store holds: rows reused from older runs predate the cleaning.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ebmbench.errors import strip_control

__all__ = ["MODES", "Tally", "Reporter", "PlainReporter", "JsonReporter", "RichReporter", "make_reporter"]

MODES = ("auto", "rich", "plain", "json")
MIN_INTERVAL_S = 1.0  # plain: at most one line per second unless a cell failed
FAILED = frozenset({"error", "diverged", "timeout"})
MIN_REASON_CHARS = 40  # a plain line quotes at least this much of a failure's reason
REASON_INDENT = "    "  # a failure's reason follows its cell's line, indented


# ------------------------------------------------------------------------ counting
@dataclass
class Tally:
    """Done/total and the time left, over the cells that run."""

    to_compute: int
    reused: int
    clock: Callable[[], float] = time.monotonic
    done: int = 0
    computed: int = 0
    since: float = field(default=math.nan)  # when computing started: after the reused burst
    expected: dict[str, float | None] = field(default_factory=dict)  # see expect()
    jobs: int = 1
    _finished: set[Any] = field(default_factory=set)
    _observed: float = 0.0  # wall seconds of finished cells with an expected time
    _predicted: float = 0.0  # and their expected seconds

    def __post_init__(self) -> None:
        self.since = self.clock()

    @property
    def total(self) -> int:
        return self.to_compute + self.reused

    def add(self, row: dict[str, Any]) -> bool:
        """Count one finished row; True when it was reused from an earlier run."""
        self.done += 1
        if is_reused(row):
            self.since = self.clock()  # reused rows come first: time the computing from the last one
            return True
        self.computed += 1
        cell_id, seconds = row.get("cell_id"), _number(row.get("wall_time_s"))
        self._finished.add(cell_id)
        if seconds is not None and self.expected.get(cell_id):
            self._observed += seconds
            self._predicted += self.expected[cell_id]
        return False

    def expect(self, expected: dict[str, float | None], jobs: int) -> None:
        """Earlier runs' wall times of the cells to compute (cell_id -> seconds, None where
        unknown) and the number of workers: the ETA then follows the work actually left,
        not the rate of the cells that happened to finish first (with longest-first
        scheduling those are the longest, and a rate from them overstates the rest)."""
        self.expected = dict(expected)
        self.jobs = max(1, int(jobs))

    def eta_s(self) -> float | None:
        """Seconds until the last cell: from earlier runs' times of the cells left when
        they are known for at least half of them (scaled by how this run compares with
        them so far), else from the rate so far (jobs in parallel included); None before
        the first computed cell when nothing is known."""
        left = self.to_compute - self.computed
        if left <= 0:
            return 0.0
        known = self._eta_from_history()
        if known is not None:
            return known
        if self.computed == 0:
            return None
        return (self.clock() - self.since) / self.computed * left

    def _eta_from_history(self) -> float | None:
        pending = [s for cid, s in self.expected.items() if cid not in self._finished]
        known = [s for s in pending if s is not None]
        if not known or len(known) < len(pending) / 2:
            return None
        fill = statistics.median(known)
        work = [fill if s is None else s for s in pending]
        scale = self._observed / self._predicted if self._predicted > 0 else 1.0
        # cells now running count in full (their elapsed part is not known here), and the
        # last cell bounds the wait from below however many workers there are
        return scale * max(sum(work) / self.jobs, max(work))


def is_reused(row: dict[str, Any]) -> bool:
    origin = row.get("cached_from")
    return isinstance(origin, str) and bool(origin)


def duration(seconds: float | None) -> str:
    """12 s, 4m05s, 1h02m: short enough for a log line."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _number(value: Any) -> float | None:
    """A JSON-safe float: rows read back from parquet hold numpy types and NaN for 'none'."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def metric_errors(row: dict[str, Any]) -> dict[str, str]:
    """{metric: "Type: message"} of the metrics that raised in a stored row (none: {})."""
    import json

    raw = row.get("metric_errors")
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        errors = json.loads(raw)
    except ValueError:
        return {"?": raw}
    return {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {"?": raw}


def _reason(row: dict[str, Any]) -> str | None:
    """Why a cell failed, or which of its metrics raised, as one line."""
    reason = row.get("reason") if str(row["status"]) != "done" else None
    if not isinstance(reason, str) or not reason:
        errors = metric_errors(row)
        if not errors:
            return None
        reason = "; ".join(f"metric {name} failed: {message}" for name, message in errors.items())
    return " ".join(strip_control(reason).split())


def cell_event(row: dict[str, Any], tally: Tally, reused: bool) -> dict[str, Any]:
    """The JSON object of one finished cell."""
    eta = tally.eta_s()
    return {
        "event": "cell",
        "task": strip_control(str(row["task"])),
        "label": strip_control(str(row["label"])),
        "rep": int(row["rep"]),
        "status": str(row["status"]),
        "seconds": None if (seconds := _number(row.get("wall_time_s"))) is None else round(seconds, 3),
        "reused": reused,
        "reason": _reason(row),
        "done": tally.done,
        "total": tally.total,
        "eta_s": None if eta is None else round(eta, 1),
    }


# ------------------------------------------------------------------------ reporters
class Reporter:
    """The quiet one, and the interface: `with reporter:` around the run, `start` once
    the run exists, `cell` per finished row, `end` after the run."""

    tally: Tally | None = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def start(self, run_id: str, to_compute: int, reused: int, skipped: int) -> None:
        self.tally = Tally(to_compute, reused)

    def cell(self, row: dict[str, Any]) -> None:
        if self.tally is not None:
            self.tally.add(row)

    def end(self, run_id: str, run_dir: str, status: str, statuses: list[str]) -> None:
        return None


class PlainReporter(Reporter):
    """Lines for a log: `[  3/364] 8gaussians mlp/dsm #0: done in 4.2 s; eta 12m30s`; a
    failure's reason follows on an indented line of its own."""

    def __init__(
        self, write: Callable[[str], None], clock: Callable[[], float] = time.monotonic, width: int | None = None
    ):
        import shutil

        self.write, self.clock = write, clock
        # a failure's reason is cut to keep lines within the terminal (COLUMNS; 80 in a file):
        # the whole reason is in the results, `ebmbench show` prints it
        self.width = width or shutil.get_terminal_size((80, 24)).columns
        self.last = -math.inf
        self.unshown = 0  # finished cells since the last line

    def start(self, run_id: str, to_compute: int, reused: int, skipped: int) -> None:
        self.tally = Tally(to_compute, reused, clock=self.clock)
        head = f"run {run_id}: {self.tally.total} cell{'s' * (self.tally.total != 1)} to run"
        parts = [f"{reused} reused from earlier runs"] if reused else []
        if skipped:
            parts.append(f"{skipped} incompatible pair{'s' * (skipped != 1)} skipped")
        line = head + (f" ({'; '.join(parts)})" if parts else "")
        if len(line) > self.width:  # the short form, within a log's 80 columns
            short = [f"{reused} reused"] * bool(reused) + [f"{skipped} skipped"] * bool(skipped)
            line = head + f" ({', '.join(short)})"
        self.write(line)

    def cell(self, row: dict[str, Any]) -> None:
        tally = self.tally
        if tally is None:
            return
        reused = tally.add(row)
        now = self.clock()
        failed = str(row["status"]) in FAILED or bool(metric_errors(row))
        if not (failed or tally.done >= tally.total or now - self.last >= MIN_INTERVAL_S):
            self.unshown += 1
            return
        self.write(self.line(row, reused))
        reason = _reason(row)
        if reason:  # on its own line, so that the cell's line stays short
            room = max(MIN_REASON_CHARS, self.width - len(REASON_INDENT))
            self.write(REASON_INDENT + (reason if len(reason) <= room else reason[: room - 3] + "..."))
        self.last, self.unshown = now, 0

    def line(self, row: dict[str, Any], reused: bool) -> str:
        """One finished cell: "[done/total] task label #rep: status in T; N more finished;
        eta T", kept within the width (80 in a log file): the long forms of the counts give
        way to short ones, then the status goes on a second, indented line. Names are
        never cut (a log is searched for them)."""
        tally = self.tally
        width = len(str(tally.total))
        task, label = strip_control(str(row["task"])), strip_control(str(row["label"]))
        status = f" #{int(row['rep'])}: {row['status']}"
        seconds = _number(row.get("wall_time_s"))
        if reused:
            status += " (reused)"
        elif seconds is not None:
            status += f" in {duration(seconds)}"
        eta = tally.eta_s() if tally.done < tally.total else None
        long_tail = (f"; {self.unshown} more finished" if self.unshown else "") + (
            f"; eta {duration(eta)}" if eta else ""
        )
        short_tail = (f"; +{self.unshown} more" if self.unshown else "") + (f"; eta {duration(eta)}" if eta else "")
        head = f"[{tally.done:>{width}}/{tally.total}] {task} {label}"
        for tail in (long_tail, short_tail):
            if len(head) + len(status) + len(tail) <= self.width:
                return f"{head}{status}{tail}"
        return f"{head}\n{REASON_INDENT}{status.lstrip()}{long_tail}"


class JsonReporter(Reporter):
    """One JSON object per line on stdout: nothing else goes there in this mode."""

    def __init__(self, write: Callable[[str], None]):
        self.write = write

    def _emit(self, obj: dict[str, Any]) -> None:
        self.write(json.dumps(obj, allow_nan=False))

    def start(self, run_id: str, to_compute: int, reused: int, skipped: int) -> None:
        super().start(run_id, to_compute, reused, skipped)
        total = to_compute + reused
        counts = {"total": total, "to_compute": to_compute, "reused": reused, "skipped": skipped}
        self._emit({"event": "start", "run_id": run_id, **counts})

    def cell(self, row: dict[str, Any]) -> None:
        if self.tally is None:
            return
        reused = self.tally.add(row)
        self._emit(cell_event(row, self.tally, reused))

    def end(self, run_id: str, run_dir: str, status: str, statuses: list[str]) -> None:
        counts: dict[str, int] = {}
        for s in statuses:
            counts[s] = counts.get(s, 0) + 1
        self._emit({"event": "end", "run_id": run_id, "dir": run_dir, "status": status, "statuses": counts})


class RichReporter(Reporter):
    """rich's live bar, for a terminal; counts and estimates like the others."""

    def __init__(self, console: Any):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]cells"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            TextColumn("{task.fields[last]}"),
            console=console,
            transient=False,
        )
        self.bar = None

    def __enter__(self) -> RichReporter:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def start(self, run_id: str, to_compute: int, reused: int, skipped: int) -> None:
        super().start(run_id, to_compute, reused, skipped)
        self.bar = self.progress.add_task("cells", total=self.tally.total, eta="", last="")

    def cell(self, row: dict[str, Any]) -> None:
        from rich.markup import escape

        if self.tally is None or self.bar is None:
            return
        reused = self.tally.add(row)
        what = "reused" if reused else str(row["status"])
        last = f"{strip_control(str(row['task']))} {strip_control(str(row['label']))} #{int(row['rep'])}: {what}"
        eta = self.tally.eta_s()
        eta_text = f"eta {duration(eta)}" if eta and self.tally.done < self.tally.total else ""
        self.progress.update(self.bar, advance=1, last=escape(last), eta=eta_text)


def make_reporter(mode: str, quiet: bool, isatty: bool, write: Callable[[str], None], console: Any) -> Reporter:
    """The reporter for `--progress MODE` (auto: rich on a terminal, plain otherwise) and `--quiet`."""
    if mode not in MODES:
        raise ValueError(f"progress mode {mode!r} is not one of {', '.join(MODES)}")
    if quiet:
        return Reporter()
    if mode == "auto":
        mode = "rich" if isatty else "plain"
    if mode == "plain":
        return PlainReporter(write)
    if mode == "json":
        return JsonReporter(write)
    return RichReporter(console)
