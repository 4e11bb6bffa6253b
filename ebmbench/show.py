"""`ebmbench show`: a run's tables for a reader — in a terminal of any width, in a CI log
(rich assumes 80 columns there), as Markdown, LaTeX, CSV or JSON.

Without --metric: one leaderboard per task and the rank across tasks. A leaderboard
holds what a reader compares first — rank, model/method, the task's main metric as
mean ± interval, the few headline metrics the task declares (`Task.headline_metrics`)
and the status count; `--all-columns` adds every other metric and the training time.
With --metric: the methods x tasks pivot of that metric (or of a cell's cost,
COST_COLUMNS); with --vs LABEL, of each cell's difference to LABEL on the same data draws
(paired.py). CSV and JSON give the aggregated long table (summary.AGG_COLUMNS), the form
scripts want. Several runs are shown as one (results/combine.py).

Tables are fitted to the console, never squeezed: every cell keeps its natural width
(no number or name is folded mid-word), columns that do not fit are dropped whole,
least important first, and one line under the table says how many more exist and the
command that shows them. Only model/method may be cut with an ellipsis, as a last
resort. `--all-columns` in a narrow console prints the table in column pages, each
repeating rank and model/method. The tables are laid out here, as plain lines, rather
than by rich's Table: the widths are decided anyway, and rich's layout engine was a
fifth of the time `show` took.

Skipped pairs (incompatible task, model and method) are one line; `--skipped` lists
them grouped by reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ebmbench.errors import UsageError, unknown_name
from ebmbench.paired import paired_differences, reference_label
from ebmbench.results.combine import load_runs
from ebmbench.summary import (
    ARROW,
    FLOOR_NOTE,
    aggregate,
    floor_labels,
    floor_marked,
    interval_heading,
    leaderboards,
    metric_columns,
    pivot,
    rank_table,
    skipped_pairs,
)

__all__ = [
    "FORMATS",
    "Board",
    "fit_columns",
    "fit_widths",
    "headline_metrics",
    "metric_failures",
    "render_run",
    "table_lines",
    "table_width",
]

FORMATS = ("table", "md", "latex", "csv", "json")
# what the tables read besides the metrics: the heavy columns (tracebacks, parameters)
# stay on disk
ROW_COLUMNS = ("cell_id", "task", "model", "label", "rep", "status", "reason", "train_time_s", "metric_errors")
# the cost of a cell, which --metric pivots like a metric ("which method works, at what
# cost?"): seconds of training, of evaluation and in all, and the worker's peak memory
COST_COLUMNS = ("train_time_s", "eval_time_s", "wall_time_s", "peak_mem_mb")
LABEL = "model/method"
GAP = "   "  # between two columns
MIN_LABEL = len(LABEL)  # model/method is never cut shorter than its header


def below_zero_note(metric: str) -> str:
    """The note under a metric that declares `unbiased_nonnegative` and shows a mean < 0."""
    return f"{metric} < 0: the unbiased estimator can dip below 0; read it as ≈ 0."


def _unbiased(meta: dict, names) -> set[str]:
    """The metrics among `names` declared `unbiased_nonnegative` (run.json, else the registry)."""
    from ebmbench.report.data import entry_metadata

    return {
        m for m, flag in entry_metadata(meta, "metrics", list(names), "unbiased_nonnegative", False).items() if flag
    }


@dataclass
class Board:
    """One table to show.

    `frame` holds display strings; `priority` names its columns most important first
    (the order in which they are kept when the console is narrow); `fixed` are the
    columns every column page repeats, the last of them the row label (the only one
    that may be cut); `hidden` counts the columns held back for --all-columns; `notes`
    are footnotes printed when their column is shown; `args` select this table on the
    command line (for the hint)."""

    title: str
    frame: Any
    priority: list[str]
    fixed: list[str]
    hidden: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    right: tuple[str, ...] = ("rank",)  # right-aligned (numeric) columns
    args: str = ""


# ----------------------------------------------------------------------- layout
def _cell_len(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _widths(data: dict[str, list[str]]) -> dict[str, int]:
    """Natural width of each column: its longest cell or its header."""
    return {col: max([_cell_len(str(col)), *map(_cell_len, cells)]) for col, cells in data.items()}


def table_width(widths: list[int]) -> int:
    """Characters a table of these column widths takes (table_lines' layout)."""
    return sum(widths) + len(GAP) * max(len(widths) - 1, 0)


def fit_columns(
    columns: list[str], priority: list[str], widths: dict[str, int], width: int, keep: int = 2
) -> list[str]:
    """The columns to show, in display order: the most important ones whose natural
    widths fit in `width`. A column is dropped whole, least important first, never
    squeezed; the `keep` most important always stay (model/method may then be cut)."""
    rank = {c: i for i, c in enumerate(priority)}
    kept = list(columns)
    while len(kept) > keep and table_width([widths[c] for c in kept]) > width:
        kept.remove(max(kept, key=lambda c: rank.get(c, len(rank))))
    return kept


def fit_widths(
    columns: list[str],
    priority: list[str],
    natural: dict[str, int],
    minimal: dict[str, int],
    width: int,
    keep: int = 1,
) -> dict[str, int]:
    """Column -> width for a table whose cells may wrap (`ebmbench list`): every column
    at least its `minimal` width (its longest word, so no word is ever broken; for a
    column cut with an ellipsis, what is still worth reading), columns dropped whole,
    least important first, until that fits; the room left is given out in priority
    order, each column up to its `natural` width. Display order is kept."""
    kept = fit_columns(columns, priority, minimal, width, keep)
    widths = {c: minimal[c] for c in kept}
    spare = width - table_width(list(widths.values()))
    for c in sorted(kept, key=lambda c: priority.index(c) if c in priority else len(priority)):
        grow = max(min(natural[c] - widths[c], spare), 0)
        widths[c] += grow
        spare -= grow
    return widths


def _pages(columns: list[str], fixed: list[str], widths: dict[str, int], width: int) -> list[list[str]]:
    """--all-columns in a narrow console: the columns in pages that each fit, every
    page repeating the fixed columns (rank, model/method)."""
    fixed = [c for c in columns if c in fixed]
    pages: list[list[str]] = []
    page: list[str] = []
    for col in (c for c in columns if c not in fixed):
        if page and table_width([widths[c] for c in [*fixed, *page, col]]) > width:
            pages.append(page)
            page = []
        page.append(col)
    pages.append(page)
    return [[*fixed, *p] for p in pages]


def _cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, ending in an ellipsis when cut."""
    if _cell_len(text) <= width:
        return text
    from rich.text import Text

    t = Text(text)
    t.truncate(width, overflow="ellipsis")
    return t.plain


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * max(width - _cell_len(text), 0)
    return space + text if right else text + space


def table_lines(data: dict[str, list[str]], widths: dict[str, int], right: tuple[str, ...] = ()) -> list[str]:
    """Columns of display strings (header -> cells) as lines: header, rule, rows; each
    column `widths` wide, three spaces apart, trailing spaces removed. Nothing is
    wrapped: the caller fits the columns."""
    cols = list(data)
    padded = [[_pad(v, widths[c], c in right) for v in [str(c), *data[c]]] for c in cols]
    lines = [GAP.join(row).rstrip() for row in zip(*padded)] if cols else [""]
    rule = "─" * table_width([widths[c] for c in cols])
    return [lines[0], rule, *lines[1:]]


# ------------------------------------------------------------- headline metrics
def _from_recorded_modules(meta: dict[str, Any], tasks: list[str]) -> dict[str, type]:
    """Task classes found by importing only the modules run.json says registered them
    and calling their task hook: ~20 ms, where loading every plugin costs ~250 ms
    (entry-point metadata, source hashes) of a `show` that should take under a second."""
    import importlib

    entries = (meta.get("entries") or {}).get("tasks") or {}
    modules = {p.get("name"): p.get("module") for p in meta.get("plugins") or [] if isinstance(p, dict)}
    found: dict[str, type] = {}
    for module in dict.fromkeys(modules.get((entries.get(t) or {}).get("plugin")) for t in tasks):
        if not module or "/" in module or module.endswith(".py"):
            continue  # plugin files (--plugins-dir) are left to the registry
        name, _, attr = module.partition(":")
        plugin = importlib.import_module(name)
        plugin = getattr(plugin, attr) if attr else plugin
        hook = getattr(plugin, "ebmbench_register_tasks", None)
        if hook is not None:
            hook(register=lambda cls: found.setdefault(getattr(cls, "name", ""), cls))
    return {t: found[t] for t in tasks if t in found}


def headline_metrics(meta: dict[str, Any], tasks: list[str]) -> dict[str, tuple[str, ...]]:
    """task -> its declared headline metrics: from run.json when the run recorded them,
    else from the plugin modules that registered the run's tasks, else from the
    installed plugins. A task found nowhere (its plugin is gone) has none."""
    recorded = meta.get("headline_metrics")
    if isinstance(recorded, dict):
        return {t: tuple(recorded.get(t) or ()) for t in tasks}
    try:
        classes = _from_recorded_modules(meta, tasks)
    except Exception:  # noqa: BLE001 - a module that moved or fails: ask the registry instead
        classes = {}
    if len(classes) < len(tasks):
        try:
            from ebmbench.registry import LoadConfig, load_registry

            registry = load_registry(LoadConfig.from_env())
            known = set(registry.names("tasks"))
            classes.update({t: registry.get("tasks", t).cls for t in tasks if t in known and t not in classes})
        except Exception:  # noqa: BLE001 - plugins that fail to load cost the headline columns, not the table
            pass
    return {t: tuple(getattr(cls, "headline_metrics", ()) or ()) for t, cls in classes.items()}


# ------------------------------------------------------------------------ boards
def _metric_names(metric: str | None, df, meta) -> list[str] | None:
    """The metrics (or cost columns) named by --metric (comma-separated), each checked,
    or None for all."""
    if metric is None:
        return None
    known = [*metric_columns(df, meta["metric_directions"]), *(c for c in COST_COLUMNS if c in df)]
    names = [m.strip() for m in metric.split(",") if m.strip()]
    for name in names:
        if name not in known:
            raise unknown_name("metrics", name, known)
    return names


def _header(metric: str, directions: dict[str, str]) -> str:
    return f"{metric} {ARROW.get(directions.get(metric, ''), '')}".strip()


def _measured(df, metrics: list[str]) -> dict[str, list[str]]:
    """task -> the metrics (registry order) a done cell of the task has a value of."""
    done = df[df["status"] == "done"]
    if not metrics or done.empty:
        return {}
    counts = done.groupby("task")[metrics].count() > 0
    return {t: [m for m in metrics if row[m]] for t, row in counts.iterrows()}


def _main_metric(meta, task: str, here: list[str], metrics: list[str]) -> str:
    """The task's main metric as run.json records it, else (a run that did not measure
    it) its first measured ranked metric, else its first measured one."""
    main = meta["main_metrics"].get(task)
    if main in here or (main in metrics and not here):
        return main
    ranked = [m for m in here if meta["metric_directions"].get(m, "none") != "none"]
    return (ranked or here or metrics or [""])[0]


def _task_board(frame, task, main, heads, others, agg, directions, all_columns, unbiased=frozenset()) -> Board:
    """The leaderboard of one task (module doc) from its full frame: the columns shown,
    their priority, the interval heading and the notes."""
    present = set(frame.columns)
    main_col = _header(main, directions)
    head_cols = [c for c in (_header(m, directions) for m in heads) if c in present]
    other_cols = [c for c in (_header(m, directions) for m in others) if c in present]
    core = ["rank", LABEL, *([main_col] if main_col in present else []), *head_cols, "status"]
    extra = [*other_cols, "train s"]
    rows = agg[(agg["task"] == task) & agg["metric"].isin([main, *heads])]
    notes = {}
    for m in unbiased & {main, *heads}:
        if ((rows["metric"] == m) & (rows["mean"] < 0)).any():
            notes[_header(m, directions)] = below_zero_note(m)
    finished = main_col in present
    title = f"{task} — ranked by {main_col} · {interval_heading(rows)}" if finished else f"{task} — no finished cells"
    return Board(
        title=title,
        frame=frame[core + (extra if all_columns else [])],
        priority=[LABEL, main_col, "rank", "status", *head_cols, *other_cols, "train s"],
        fixed=["rank", LABEL],
        hidden=0 if all_columns else len(others) + finished,  # the other metrics and train s
        notes=notes,
        args=f" -t {task}",
    )


def _rank_board(df, meta) -> Board | None:
    """The rank across tasks, with the number of tasks each mean rank covers."""
    table = rank_table(df, meta["metric_directions"], meta["main_metrics"])
    if len(table.columns) < 4:
        return None  # a cross-task ranking needs two tasks at least (beside tasks, mean rank)
    shown = table.reset_index()
    shown["tasks"] = shown["tasks"].astype(str)
    for col in shown.columns[2:]:
        shown[col] = [_rank_text(v) for v in shown[col]]
    title = "rank by each task's main metric (1 = best) · mean over the tasks each ran (tasks), most tasks first"
    priority = [LABEL, "mean rank", "tasks", *shown.columns[3:]]
    return Board(title, shown, priority, [LABEL], right=tuple(shown.columns[1:]))


def _rank_text(v) -> str:
    return "—" if v != v else f"{v:.2f}".rstrip("0").rstrip(".")


def _pivot_boards(df, meta, names, digits, vs: str | None = None) -> list[Board]:
    """--metric: the methods x tasks table of each named metric (with `vs`: of each
    cell's paired difference to that row, paired.py). A cost column is better lower."""
    directions = {**dict.fromkeys(COST_COLUMNS, "lower"), **meta["metric_directions"]}
    if vs is not None:
        df = paired_differences(df, names, vs)
    agg = aggregate(df, names)
    boards = []
    for name in names:
        table = pivot(df, name, directions, digits=digits, agg=agg)
        rows = agg[agg["metric"] == name]
        what = name if vs is None else f"{name} − {vs}, paired by data draw"
        title = f"{what} — {interval_heading(rows)}"
        if table.empty:
            boards.append(Board(title, table, [], []))
            continue
        if vs is not None:
            table.index.name = f"{_header(name, directions)} − {vs} (model/method)"
        label = table.index.name
        shown = table.reset_index()
        notes = {}
        if vs is None and (rows["mean"] < 0).any() and name in _unbiased(meta, [name]):
            notes = {c: below_zero_note(name) for c in shown.columns[1:]}
        args = f" --metric {name}" + (f" --vs {vs}" if vs is not None else "")
        boards.append(Board(title, shown, list(shown.columns), [label], notes=notes, right=(), args=args))
    return boards


def _boards(df, meta, task, metric, digits, all_columns, vs=None) -> list[Board]:
    """The tables to render for a run (one per task and the ranks, or the --metric pivots)."""
    directions = meta["metric_directions"]
    metrics = metric_columns(df, directions)
    names = _metric_names(metric, df, meta)
    if task is not None:
        df = df[df["task"] == task]
    if names is not None:
        return _pivot_boards(df, meta, names, digits, vs)
    tasks = sorted(df["task"].unique())
    here = _measured(df, metrics)
    mains = {t: _main_metric(meta, t, here.get(t, []), metrics) for t in tasks}
    declared = headline_metrics(meta, tasks)
    heads = {t: [m for m in declared.get(t, ()) if m in here.get(t, []) and m != mains[t]] for t in tasks}
    others = {t: [m for m in here.get(t, []) if m != mains[t] and m not in heads[t]] for t in tasks}
    shown = {t: [*heads[t], *(others[t] if all_columns else [])] for t in tasks}
    agg = aggregate(df, list(dict.fromkeys(m for t in tasks for m in [mains[t], *shown[t]])))
    floors = floor_labels(df, meta)
    frames = leaderboards(df, mains, directions, shown, digits, agg=agg, floors=floors)
    negative = set(agg.loc[agg["mean"] < 0, "metric"])  # metadata looked up only when a note may be due
    unbiased = _unbiased(meta, negative) if negative else set()
    boards = [
        _task_board(frames[t], t, mains[t], heads[t], others[t], agg, directions, all_columns, unbiased) for t in tasks
    ]
    for board in boards:  # the note goes under every column that carries the mark
        for col in board.frame.columns:
            if floor_marked(board.frame[[col]]):
                board.notes[col] = FLOOR_NOTE
    rank = _rank_board(df, meta)
    return boards + ([rank] if rank is not None else [])


# ---------------------------------------------------------------------- printing
def _first_fitting(variants: list[str], width: int) -> str:
    return next((v for v in variants if _cell_len(v) <= width), variants[-1])


def _short_id(run_id: str) -> str:
    """The run id's date and time (show accepts a unique prefix): fits a hint in 80 columns."""
    return run_id[:15]


def _more_columns_hint(board: Board, n: int, run_id: str, width: int) -> str:
    what = f"{n} more column{'s' if n > 1 else ''}"
    return _first_fitting(
        [
            f"{what}: ebmbench show {run_id}{board.args} --all-columns (or --format csv)",
            f"{what}: ebmbench show {run_id}{board.args} --all-columns",
            f"{what}: ebmbench show {_short_id(run_id)}{board.args} --all-columns",
            f"{what}: ebmbench show {_short_id(run_id)} --all-columns",
            f"{what}: --all-columns",
        ],
        width,
    )


def _board_lines(board: Board, width: int, all_columns: bool) -> tuple[list[list[str]], set[str]]:
    """The lines of each column page of a board fitted to `width`, and the columns shown."""
    data = {str(c): [_fmt(v) for v in board.frame[c]] for c in board.frame.columns}
    widths = _widths(data)
    columns = list(data)
    if all_columns:
        pages = _pages(columns, board.fixed, widths, width)
    else:
        pages = [fit_columns(columns, board.priority, widths, width)]
    label = board.fixed[-1] if board.fixed else None
    out = []
    for cols in pages:
        page = {c: data[c] for c in cols}
        page_widths = dict(widths)
        over = table_width([widths[c] for c in cols]) - width
        if over > 0 and label in page:  # the last resort: cut model/method, never a number
            page_widths[label] = max(widths[label] - over, MIN_LABEL)
            page[label] = [_cut(v, page_widths[label]) for v in page[label]]
        out.append(table_lines(page, page_widths, board.right))
    return out, {c for p in pages for c in p}


def _fmt(v) -> str:
    if isinstance(v, float):
        return "—" if v != v else f"{v:.3g}"
    return str(v)


def _print_board(console, board: Board, run_id: str, all_columns: bool) -> None:
    from rich.text import Text

    width = console.width
    console.print(Text(board.title, style="bold"))
    if board.frame.empty:
        console.print(Text("no finished cells", style="dim"))
        return
    pages, shown = _board_lines(board, width, all_columns)
    for lines in pages:
        text = Text(lines[0], style="bold")
        text.append("\n" + "\n".join(lines[1:]))
        console.print(text, no_wrap=True, crop=False)
    missing = board.hidden + len(board.frame.columns) - len(shown)
    if missing > 0:
        console.print(Text(_more_columns_hint(board, missing, run_id, width), style="dim"))
    for note in dict.fromkeys(note for col, note in board.notes.items() if col in shown):
        console.print(Text(f"* {note}", style="dim"))


def _skipped_line(n: int, run_id: str, width: int) -> str:
    what = f"{n} (task, model/method) pair{'s' if n > 1 else ''} skipped"
    return _first_fitting(
        [
            f"{what}; `ebmbench show {run_id} --skipped` lists them",
            f"{what}; `ebmbench show {_short_id(run_id)} --skipped` lists them",
            f"{n} pair{'s' * (n != 1)} skipped; `ebmbench show {_short_id(run_id)} --skipped` lists them",
            f"{n} pair{'s' * (n != 1)} skipped; `ebmbench show --skipped` lists them",
        ],
        width,
    )


def _skipped_groups(df, task: str | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(reason, [(task, label)])], the most frequent reason first."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for t, lab, reason in skipped_pairs(df):
        if task in (None, t):
            groups.setdefault(str(reason), []).append((t, lab))
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _pair_lines(pairs: list[tuple[str, str]]) -> list[str]:
    """A reason's pairs in as few lines as they allow: "label: task, task" when the
    pairs share labels (a method that fits no model of the run), else "task: label,
    label" (a model that cannot do a task: every method paired with it)."""
    by_label: dict[str, list[str]] = {}
    by_task: dict[str, list[str]] = {}
    for t, lab in pairs:
        by_label.setdefault(lab, []).append(t)
        by_task.setdefault(t, []).append(lab)
    keyed = by_label if len(by_label) <= len(by_task) else by_task
    return [f"{key}: {', '.join(values)}" for key, values in keyed.items()]


def _skipped_text(df, task: str | None, markdown: bool = False) -> str:
    """The skipped pairs grouped by reason: the reason, then its pairs (_pair_lines)."""
    groups = _skipped_groups(df, task)
    total = sum(len(pairs) for _, pairs in groups)
    if not total:
        return "no skipped pairs"
    lines = [f"{total} skipped (task, model/method) pair{'s' if total > 1 else ''}, by reason:"]
    for reason, pairs in groups:
        n = len(pairs)
        lines += ["", f"{'**' if markdown else ''}{reason}{'**' if markdown else ''} ({n} pair{'s' if n > 1 else ''})"]
        lines += [f"{'- ' if markdown else '  '}{line}" for line in _pair_lines(pairs)]
    return "\n".join(lines)


def _print_problems(console, df, task) -> None:
    from rich.text import Text

    for row in df[df["status"].isin(["error", "diverged", "timeout"])].itertuples():
        if task in (None, row.task):
            line = Text(f"{row.status}: ", style="red")
            line.append(f"{row.task} {row.label} #{row.rep}: {row.reason}")
            console.print(line)
    for (metric, message), cells in metric_failures(df if task is None else df[df["task"] == task]).items():
        line = Text("metric error: ", style="red")
        where = ", ".join(cells[:3]) + (f" and {len(cells) - 3} more" if len(cells) > 3 else "")
        line.append(f"{metric} raised in {len(cells)} cell{'s' * (len(cells) > 1)} ({where}): {message}")
        console.print(line)


def metric_failures(df) -> dict[tuple[str, str], list[str]]:
    """{(metric, "Type: message"): ["task label #rep", ...]} of the metrics that raised
    (their values are NaN; the cells stayed done), from the `metric_errors` column."""
    from ebmbench.execution.progress import metric_errors

    out: dict[tuple[str, str], list[str]] = {}
    if "metric_errors" not in df.columns:
        return out
    for row in df[df["metric_errors"].notna()].to_dict("records"):
        for metric, message in metric_errors(row).items():
            out.setdefault((metric, message), []).append(f"{row['task']} {row['label']} #{row['rep']}")
    return out


def _print_tables(console, df, meta, boards, task, all_columns) -> None:
    for board in boards:
        _print_board(console, board, meta["run_id"], all_columns)
        console.print()
    n_skipped = sum(1 for t, _, _ in skipped_pairs(df) if task in (None, t))
    if n_skipped:
        from rich.text import Text

        console.print(Text(_skipped_line(n_skipped, meta["run_id"], console.width), style="dim"))
    _print_problems(console, df, task)


def _markdown(board: Board, all_columns: bool) -> str:
    text = f"### {board.title}\n\n"
    if board.frame.empty:
        return text + "no finished cells\n"
    text += board.frame.to_markdown(index=False) + "\n"
    if board.hidden and not all_columns:
        text += f"\n_{board.hidden} more columns with `--all-columns`_\n"
    for note in dict.fromkeys(board.notes.values()):
        text += f"\n_* {note}_\n"
    return text


def _latex(board: Board) -> str:
    if board.frame.empty:
        return f"% {board.title}\n% no finished cells\n"
    return f"% {board.title}\n" + board.frame.style.hide(axis="index").to_latex(hrules=True)


def render_run(
    run_dir: Path | list[Path],
    task: str | None = None,
    metric: str | None = None,
    fmt: str = "table",
    console=None,
    digits: int = 3,
    all_columns: bool = False,
    skipped: bool = False,
    vs: str | None = None,
) -> str | None:
    """Print (fmt=table, via `console`) or return the text of a run's tables.

    `run_dir` may be several run folders, read as one (results/combine.py). `all_columns`
    shows every metric (the default is each task's headline columns); `skipped` lists the
    skipped pairs grouped by reason instead of the tables; `vs` (with `metric`) shows each
    cell's paired difference to that model/method row instead of its value."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if vs is not None and metric is None:
        raise UsageError(f"--vs needs --metric: differences are shown per metric (e.g. --metric nll_grid --vs {vs})")
    # only the columns the tables read: tracebacks and parameters stay on disk
    meta, df = load_runs([run_dir] if isinstance(run_dir, (str, Path)) else run_dir, (*ROW_COLUMNS, *COST_COLUMNS))
    header = (
        f"run{'s' if meta.get('runs') else ''} {meta['run_id']} · profile {meta['profile']['name']} · "
        f"{meta['status']} · {len(df)} of {meta['n_cells']} cells"
    )
    if df.empty:
        if fmt == "table":
            console.print(header)
            return None
        return "" if fmt in ("csv", "json") else header + "\n"
    if task is not None and task not in set(df["task"]):
        raise unknown_name("tasks", task, sorted(df["task"].unique()))
    if skipped:
        return _render_skipped(df, task, fmt, console, header)
    if vs is not None:
        vs = reference_label(df if task is None else df[df["task"] == task], vs)
    if fmt in ("csv", "json"):
        rows = df if task is None else df[df["task"] == task]
        names = _metric_names(metric, df, meta) or metric_columns(df, meta["metric_directions"])
        long = aggregate(rows if vs is None else paired_differences(rows, names, vs), names)
        if vs is not None:
            long.insert(3, "vs", vs)
        return long.to_csv(index=False) if fmt == "csv" else long.to_json(orient="records", indent=2)
    boards = _boards(df, meta, task, metric, digits, all_columns, vs)
    if fmt == "table":
        from rich.text import Text

        console.print(Text(header))
        console.print()
        _print_tables(console, df, meta, boards, task, all_columns)
        return None
    if fmt == "md":
        return "\n".join(_markdown(b, all_columns) for b in boards)
    return "\n".join(_latex(b) for b in boards)


def _render_skipped(df, task, fmt, console, header) -> str | None:
    """`show --skipped`: the reasons grouped (table, md) or one row per pair (csv, json)."""
    if fmt in ("csv", "json"):
        import pandas as pd

        rows = [(t, lab, r) for t, lab, r in skipped_pairs(df) if task in (None, t)]
        frame = pd.DataFrame(rows, columns=["task", "label", "reason"])
        return frame.to_csv(index=False) if fmt == "csv" else frame.to_json(orient="records", indent=2)
    if fmt == "table":
        from rich.text import Text

        console.print(Text(header))
        console.print()
        console.print(Text(_skipped_text(df, task)))
        return None
    return header + "\n\n" + _skipped_text(df, task, markdown=fmt == "md") + "\n"
