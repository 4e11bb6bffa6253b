"""`ebmbench compare`'s output: a rich table for a terminal, markdown for a CI job summary,
JSON for machines. The table is already sorted worst first (results.compare); here only
the rows a reader needs are kept — the changed ones unless every row is asked for.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from ebmbench.results.compare import MARKS, has_regression, summary_counts

__all__ = ["render_table", "render_markdown", "render_json", "headline", "visible_rows"]

_STYLE = {"newly failing": "bold red", "worse": "red", "incomparable": "yellow", "better": "green", "fixed": "green"}
_ICON = {"newly failing": "✗", "worse": "▼", "better": "▲", "fixed": "✓", "incomparable": "?", "new": "+", "gone": "−"}


def visible_rows(table: pd.DataFrame, all_rows: bool) -> pd.DataFrame:
    return table if all_rows else table[table["mark"] != "unchanged"]


def _num(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def _change(row: pd.Series) -> str:
    if math.isnan(row["delta"]):
        return ""
    rel = f" ({row['rel_delta']:+.1%})" if math.isfinite(row["rel_delta"]) else ""
    return f"{row['delta']:+.4g}{rel}"


def _evidence(row: pd.Series) -> str:
    if row["test"] and not math.isnan(row["p_holm"]):
        return f"{row['test']}, p_holm={row['p_holm']:.3g}"
    return row["test"] or ""


def headline(table: pd.DataFrame, base_name: str, cur_name: str) -> str:
    counts = {m: n for m, n in summary_counts(table).items() if n}
    verdict = "REGRESSION" if has_regression(table) else "no regression"
    parts = ", ".join(f"{n} {m}" for m, n in counts.items()) or "nothing compared"
    return f"{verdict}: {cur_name} against {base_name}: {parts}"


WIDE = 140  # columns below which the table would squeeze its cells: one block per row instead


def _render_rows(shown: pd.DataFrame, console) -> None:
    """Each row as a block that fits any width (a CI log's 80 columns): the mark, the
    cell, the metric and its move on one line, why on the next, indented and wrapped."""
    import textwrap

    from rich.text import Text

    for _, row in shown.iterrows():
        line = Text(f"{_ICON.get(row['mark'], ' ')} {row['mark']}", style=_STYLE.get(row["mark"], ""))
        change = _change(row)
        line.append(f"  {row['task']} {row['label']} · {row['metric']}: ")
        line.append(f"{_num(row['base_mean']) or '—'} → {_num(row['cur_mean']) or '—'}")
        line.append(f" ({change})" if change else "")
        console.print(line, soft_wrap=False, overflow="fold")
        for part in textwrap.wrap(str(row["reason"]), max(20, console.width - 4)):
            console.print(Text("    " + part, style="dim"), soft_wrap=False, overflow="fold")


def render_table(table: pd.DataFrame, base_name: str, cur_name: str, console, all_rows: bool = False) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(headline(table, base_name, cur_name), soft_wrap=False, overflow="fold")
    shown = visible_rows(table, all_rows)
    if shown.empty:
        hidden = len(table)
        console.print(f"({hidden} unchanged row{'s' if hidden != 1 else ''}; --all-rows shows them)")
        return
    if console.width < WIDE:
        _render_rows(shown, console)
        hidden = len(table) - len(shown)
        if hidden:
            console.print(f"({hidden} unchanged row{'s' if hidden != 1 else ''} not shown; --all-rows shows them)")
        return
    out = Table(show_lines=False, title_justify="left")
    for col, kw in (
        ("mark", {"no_wrap": True}),
        ("task", {"no_wrap": True}),
        ("model/method", {"overflow": "fold"}),
        ("metric", {"no_wrap": True}),
        ("baseline", {"justify": "right", "no_wrap": True}),
        ("current", {"justify": "right", "no_wrap": True}),
        ("change", {"justify": "right", "no_wrap": True}),
        ("why", {"overflow": "fold", "ratio": 1}),
    ):
        out.add_column(col, **kw)
    for _, row in shown.iterrows():
        mark = f"{_ICON.get(row['mark'], ' ')} {row['mark']}"
        out.add_row(
            f"[{_STYLE[row['mark']]}]{mark}[/]" if row["mark"] in _STYLE else mark,
            escape(row["task"]),
            escape(row["label"]),
            escape(row["metric"]),
            _num(row["base_mean"]),
            _num(row["cur_mean"]),
            _change(row),
            escape(row["reason"]),
        )
    console.print(out)
    hidden = len(table) - len(shown)
    if hidden:
        console.print(f"({hidden} unchanged row{'s' if hidden != 1 else ''} not shown; --all-rows shows them)")


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(table: pd.DataFrame, base_name: str, cur_name: str, all_rows: bool = False) -> str:
    """A CI job summary: the verdict, the counts, and the changed rows as a table."""
    shown = visible_rows(table, all_rows)
    verdict = "❌ regression" if has_regression(table) else "✅ no regression"
    lines = [f"### ebmbench compare: {verdict}", "", f"`{cur_name}` against `{base_name}`", ""]
    counts = summary_counts(table)
    lines.append(" · ".join(f"{m}: **{n}**" for m, n in counts.items() if n) or "nothing compared")
    lines.append("")
    if shown.empty:
        lines.append(f"All {len(table)} compared rows are unchanged.")
        return "\n".join(lines) + "\n"
    lines.append("| mark | task | model/method | metric | baseline | current | change | evidence |")
    lines.append("|:--|:--|:--|:--|--:|--:|--:|:--|")
    for _, row in shown.iterrows():
        cells = [
            f"{_ICON.get(row['mark'], '')} {row['mark']}".strip(),
            row["task"],
            f"`{row['label']}`",
            row["metric"],
            _num(row["base_mean"]),
            _num(row["cur_mean"]),
            _change(row),
            row["reason"],
        ]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    hidden = len(table) - len(shown)
    if hidden:
        lines += ["", f"{hidden} unchanged row{'s' if hidden != 1 else ''} not shown."]
    return "\n".join(lines) + "\n"


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def render_json(table: pd.DataFrame, base_name: str, cur_name: str, all_rows: bool = True) -> str:
    """Every row by default: a machine wants the unchanged ones too."""
    shown = visible_rows(table, all_rows)
    # json.dumps, not DataFrame.to_json: that rounds to 10 decimals (a p of 1e-12 -> 0)
    rows = [{k: _json_value(v) for k, v in r.items()} for r in shown.to_dict("records")]
    doc = {
        "baseline": base_name,
        "current": cur_name,
        "regression": has_regression(table),
        "counts": summary_counts(table),
        "marks": list(MARKS),
        "rows": rows,
    }
    return json.dumps(doc, indent=2)
