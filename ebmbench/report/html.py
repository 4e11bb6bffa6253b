"""The self-contained HTML report: one file, figures embedded as base64 lossless WebP
(PNG for figures made elsewhere), lazily decoded, no scripts, nothing fetched — it
opens offline in any browser.

Rendered with Jinja2 with autoescaping on, so every string from a plugin, a
parameter or an error message is text, never markup; the pivot tables come from
pandas' Styler with HTML escaping and are the only pre-rendered markup. A
Content-Security-Policy forbids scripts and remote loads as a second line of defence.
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime

from ebmbench.report.data import RunData, negative_note
from ebmbench.report.style import FigureInfo
from ebmbench.report.tables import MetricTable, failing_pairs, problems, skip_reasons, status_by_task
from ebmbench.summary import FLOOR_NOTE, floor_marked

__all__ = ["TEMPLATE", "render_html"]

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>ebmbench report — {{ run_id }}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { border-bottom: 2px solid #dde3ea; padding-bottom: .2rem; margin-top: 2.4rem; }
h3 { margin: 1.6rem 0 .5rem; } h3 small { font-weight: normal; color: #4a5564; }
nav { background: #f4f6f9; padding: .6rem .9rem; border-radius: 6px; } nav a { margin-right: .9rem; }
.scroll { overflow-x: auto; margin: .5rem 0 1rem; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border-bottom: 1px solid #e3e7ec; padding: .25rem .55rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #b9c2cd; background: #fafbfc; }
td.num, .pivot td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.board td { white-space: nowrap; }
.ranks td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eef0f3; }
figcaption { font-size: .85rem; color: #4a5564; max-width: 60rem; }
.files { font-size: .78rem; color: #6b7684; }
.note { font-size: .85rem; color: #6a4b00; background: #fff8e1; padding: .3rem .6rem; border-radius: 4px; }
.kv th { font-weight: 600; padding-right: 1.5rem; }
.bad { color: #b3261e; font-weight: 600; } .ok { color: #1e7b34; font-weight: 600; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .78rem; white-space: pre-wrap; }
code { font-size: .85rem; } details { margin: .3rem 0; }
</style>
</head>
<body>
{%- macro table(t, cls="") -%}
<div class="scroll"><table class="{{ cls }}"><thead><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr>{% for v in row %}<td{% if v is number %} class="num"{% endif %}>
{{- v }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
{%- endmacro -%}
{%- macro kv(pairs) -%}
<table class="kv"><tbody>{% for key, value in pairs %}<tr><th>{{ key }}</th><td>{{ value }}</td></tr>
{% endfor %}</tbody></table>
{%- endmacro %}
<main>
<h1>ebmbench report</h1>
<p>Run <code>{{ run_id }}</code> · {{ headline }}</p>
<nav>
<a href="#summary">Summary</a><a href="#tasks">Tasks</a>
{%- if model_figures %}<a href="#models">Learned energies</a>{% endif %}
<a href="#tables">Tables</a><a href="#status">Status</a><a href="#provenance">Provenance</a>
</nav>

<h2 id="summary">Summary</h2>
{{ kv(summary) }}
{% if ranks %}<h3>Mean rank across tasks</h3>
<p class="files">Each task ranked by its main metric (1 = best); {{ rank_heading }}.</p>
{{ table(ranks, cls="ranks") }}{% endif %}
{% for f in overview_figures %}{{ figure(f) }}{% endfor %}

<h2 id="tasks">Tasks</h2>
{% for t in tasks %}
<h3 id="task-{{ loop.index }}">{{ t.name }} <small>— ranked by {{ t.main }} ({{ t.interval }})</small></h3>
{{ table(t, cls="board") }}
{% for n in t.notes %}<p class="note">{{ n }}</p>
{% endfor %}{% for f in t.figures %}{{ figure(f) }}{% endfor %}
{% endfor %}

{% if model_figures %}<h2 id="models">Learned energies and samples</h2>
{% for f in model_figures %}{{ figure(f) }}{% endfor %}{% endif %}

<h2 id="tables">Tables per metric</h2>
<p>Methods × tasks, {{ interval }}; the best in each column in bold.
The same tables are in <code>tables/</code> as Markdown and LaTeX (booktabs).</p>
{% for t in pivots %}<h3>{{ t.header }}</h3>
<div class="scroll">{{ t.html }}</div>
{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{% endfor %}

<h2 id="status">Status</h2>
<h3>Cells per task and status</h3>
{{ table(status) }}
{% if failing %}<h3>Model/methods with errors, divergences or timeouts</h3>
{{ table(failing) }}{% endif %}
{% if problems %}<h3>Each failed cell</h3>
{% for p in problems %}<details><summary><span class="bad">{{ p.status }}</span> {{ p.task }} · {{ p.label }}
 · seed #{{ p.rep }}: {{ p.reason }}</summary>
{% if p.traceback %}<pre>{{ p.traceback }}</pre>{% endif %}</details>
{% endfor %}{% endif %}
{% if skipped %}<h3>Skipped cells by reason</h3>
<details><summary>{{ skipped.rows | sum(attribute=1) }} cells skipped for {{ skipped.rows | length }} reasons
(incompatible model, method and task)</summary>
{{ table(skipped) }}</details>{% endif %}

<h2 id="provenance">Provenance</h2>
{{ kv(provenance) }}
<h3>Command</h3>
<pre>{{ command }}</pre>
<h3>Profile</h3>
{{ kv(profile) }}
<h3>Plugins</h3>
<div class="scroll"><table><thead><tr><th>name</th><th>distribution</th><th>version</th><th>status</th>
<th>hooks</th><th>entries</th><th>error</th></tr></thead><tbody>
{% for p in plugins %}<tr><td>{{ p.name }}</td><td>{{ p.dist or "local" }}</td><td>{{ p.version or "" }}</td>
<td class="{{ 'ok' if p.status == 'loaded' else 'bad' }}">{{ p.status }}</td><td>{{ p.hooks | join(", ") }}</td>
<td>{{ p.entries | join(", ") }}</td><td>{{ p.error or "" }}</td></tr>
{% endfor %}</tbody></table></div>
<h3>Entries and source hashes</h3>
<div class="scroll"><table><thead><tr><th>kind</th><th>name</th><th>plugin</th><th>version</th>
<th>source hash</th></tr></thead><tbody>
{% for e in entries %}<tr><td>{{ e.kind }}</td><td>{{ e.name }}</td><td>{{ e.plugin }}</td><td>{{ e.version or "" }}</td>
<td><code>{{ e.source_hash or "" }}</code></td></tr>
{% endfor %}</tbody></table></div>
<p class="files">Generated {{ generated }}{% if seconds is not none %} in {{ "%.1f" | format(seconds) }} s{% endif %}
by <code>ebmbench report</code>.</p>
</main>
</body>
</html>
"""

FIGURE = """<figure id="fig-{{ f.name }}">
<img src="data:{{ mime }};base64,{{ data }}" alt="{{ f.title }}" width="{{ width }}" height="{{ height }}" loading="lazy" decoding="async">
<figcaption><strong>{{ f.title }}.</strong> {{ f.caption }}
<span class="files">Files: figures/{{ f.png.name }}{% if f.svg %}, figures/{{ f.svg.name }}{% endif %}</span></figcaption>
</figure>
"""


def _env():
    from jinja2 import Environment, select_autoescape

    return Environment(
        autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=False, lstrip_blocks=False
    )


def _records(frame) -> dict:
    return {
        "columns": [str(c) for c in frame.columns],
        "rows": [
            ["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row]
            for row in frame.itertuples(index=False)
        ],
    }


def _figure_renderer(env):
    from markupsafe import Markup
    from PIL import Image

    template = env.from_string(FIGURE)

    def render(f: FigureInfo):
        width, height = f.width, f.height
        if not (width and height):
            with Image.open(f.png) as img:
                width, height = img.size
        # one PNG pixel per CSS pixel (style.fitted_dpi keeps PNGs within the column); the height
        # reserves the space, so lazily decoded images do not make the page jump
        mime, raw = ("image/webp", f.embed) if f.embed else ("image/png", f.png.read_bytes())
        data = base64.b64encode(raw).decode("ascii")
        return Markup(template.render(f=f, data=data, mime=mime, width=width, height=height))

    return render


def _summary(run: RunData, figures, tables) -> list[tuple[str, str]]:
    meta = run.meta
    df = run.df
    counts = df["status"].value_counts() if not df.empty else {}
    seconds = run.run_seconds()
    rows = [
        ("status", str(meta.get("status", "?"))),
        (
            "cells",
            f"{len(df)} of {meta.get('n_cells', len(df))}: "
            + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none"),
        ),
        ("tasks", ", ".join(run.tasks) or "none"),
        ("model/methods", str(len(run.labels))),
        ("run time", f"{seconds:.1f} s" if seconds is not None else "?"),
        ("started", str(meta.get("started", "?"))),
        ("figures", str(len(figures))),
        ("tables", ", ".join(t.metric for t in tables) or "none"),
    ]
    return rows


def _provenance(meta: dict) -> list[tuple[str, str]]:
    keys = [
        "ebmbench_version",
        "git_commit",
        "ebmbench_git_commit",
        "python",
        "torch",
        "platform",
        "machine",
        "cpu_count",
        "torch_threads",
        "device",
        "base_seed",
        "seeds",
        "timeout_s",
        "started",
        "ended",
    ]
    return [(k, str(meta[k])) for k in keys if k in meta and meta[k] is not None]


def _entries(meta: dict) -> list[dict]:
    out = []
    for kind, entries in (meta.get("entries") or {}).items():
        for name, e in sorted(entries.items()):
            out.append({"kind": kind, "name": name, **{k: e.get(k) for k in ("plugin", "version", "source_hash")}})
    return out


def render_html(
    run: RunData, figures: list[FigureInfo], tables: list[MetricTable], seconds: float | None = None
) -> str:
    import shlex

    env = _env()
    figure = _figure_renderer(env)
    tasks = []
    for task in run.tasks:
        main = run.main_metric(task)
        frame = run.leaderboard(task)
        tasks.append(
            {
                "name": task,
                "main": main or "—",
                "interval": run.interval(task, main),
                **(_records(frame) if frame is not None else {"columns": [], "rows": []}),
                "figures": [f for f in figures if f.task == task],
                "notes": [negative_note(m, run.negatives(m, task)) for m in run.unbiased if run.negatives(m, task)]
                + ([FLOOR_NOTE] if frame is not None and floor_marked(frame) else []),
            }
        )
    ranks = None
    if not run.ranks.empty and len(run.ranks) > 1:
        ranks = _records(run.rank_table())
    bad, failing, skipped = problems(run), failing_pairs(run), skip_reasons(run)
    meta = run.meta
    command = meta.get("command") or []
    context = {
        "run_id": run.run_id,
        "headline": f"profile {(meta.get('profile') or {}).get('name', '?')} · {meta.get('status', '?')} · "
        f"{len(run.df)} cells · {len(run.tasks)} tasks",
        "summary": _summary(run, figures, tables),
        "ranks": ranks,
        "overview_figures": [f for f in figures if f.section == "overview"],
        "tasks": tasks,
        "model_figures": [f for f in figures if f.section == "model" and f.task is None],
        "pivots": [
            {"header": t.header, "html": _markup(t.to_html(f"pivot{i}")), "note": _pivot_note(run, t.metric)}
            for i, t in enumerate(tables)
        ],
        "rank_heading": run.overall.heading,
        "interval": run.interval(),
        "status": _records(status_by_task(run)),
        "failing": _records(failing) if len(failing) else None,
        "skipped": _records(skipped) if len(skipped) else None,
        "problems": bad.astype(object).where(bad.notna(), None).to_dict("records") if len(bad) else [],
        "provenance": _provenance(meta),
        "command": shlex.join(map(str, command)) if isinstance(command, list) else str(command),
        "profile": [(k, v) for k, v in (meta.get("profile") or {}).items()],
        "plugins": meta.get("plugins") or [],
        "entries": _entries(meta),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": seconds,
        "figure": figure,
    }
    return env.from_string(TEMPLATE).render(**context)


def _pivot_note(run: RunData, metric: str) -> str | None:
    """The negative-estimate note under a metric's pivot table, if any mean is below zero."""
    labels = run.negatives(metric)
    return negative_note(metric, labels) if labels else None


def _markup(text: str):
    """Styler output: escaped by pandas (format(escape="html")), so it is safe markup."""
    from markupsafe import Markup

    return Markup(text)
