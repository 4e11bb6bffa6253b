"""A compact Markdown summary of a run, fit for a CI job summary or a PR comment:
the mean ranks, a short leaderboard per task, and what failed. No images (a job
summary cannot show local files); every plugin string is escaped.
"""

from __future__ import annotations

from collections import Counter

from ebmbench.report.data import RunData, negative_note
from ebmbench.report.tables import md_escape, md_table, problems, skip_reasons
from ebmbench.summary import FLOOR_NOTE, floor_marked

__all__ = ["MAX_PROBLEMS", "MAX_ROWS", "summary_markdown"]

MAX_ROWS = 10  # leaderboard rows per task
MAX_PROBLEMS = 20


def _headline(run: RunData) -> str:
    meta = run.meta
    counts = Counter(run.df["status"]) if not run.df.empty else Counter()
    parts = [
        f"profile **{md_escape((meta.get('profile') or {}).get('name', '?'))}**",
        md_escape(meta.get("status", "?")),
        f"{len(run.df)} of {meta.get('n_cells', len(run.df))} cells: "
        + (", ".join(f"{n} {md_escape(s)}" for s, n in counts.most_common()) or "none"),
    ]
    seconds = run.run_seconds()
    if seconds is not None:
        parts.append(f"{seconds:.0f} s")
    parts.append(f"ebmbench {md_escape(meta.get('ebmbench_version', '?'))}")
    if meta.get("git_commit"):
        parts.append(f"commit {md_escape(str(meta['git_commit'])[:10])}")
    return " · ".join(parts)


def summary_markdown(run: RunData, figures=(), report_seconds: float | None = None) -> str:
    lines = [f"## ebmbench run {md_escape(run.run_id)}", "", _headline(run), ""]
    if not run.ranks.empty and len(run.ranks) > 1:
        lines += ["### Mean rank (each task ranked by its main metric; 1 = best)", ""]
        lines += [md_escape(run.overall.heading[0].upper() + run.overall.heading[1:]) + ".", ""]
        lines += [md_table(run.rank_table()), ""]
    for task in run.tasks:
        main = run.main_metric(task)
        if main is None:
            continue
        frame = run.leaderboard(task)
        keep = [c for c in frame.columns[:3]] + ["train s", "status"]
        shown = frame[keep].head(MAX_ROWS)
        heading = f"### {md_escape(task)} — ranked by {md_escape(main)} ({md_escape(run.interval(task, main))})"
        lines += [heading, "", md_table(shown)]
        if len(frame) > MAX_ROWS:
            lines.append(f"\n… and {len(frame) - MAX_ROWS} more")
        if floor_marked(shown):
            lines.append(f"\n_Note: {md_escape(FLOOR_NOTE)}_")
        for metric in run.unbiased:
            if run.negatives(metric, task):
                lines.append(f"\n_Note: {md_escape(negative_note(metric, run.negatives(metric, task)))}_")
        lines.append("")
    bad = problems(run)
    if len(bad):
        lines += [f"### Problems ({len(bad)})", ""]
        for r in bad.head(MAX_PROBLEMS).itertuples(index=False):
            lines.append(
                f"- **{md_escape(r.status)}** {md_escape(r.task)} {md_escape(r.label)} "
                f"#{r.rep}: {md_escape(r.reason or '')}"
            )
        if len(bad) > MAX_PROBLEMS:
            lines.append(f"- … and {len(bad) - MAX_PROBLEMS} more")
        lines.append("")
    reasons = skip_reasons(run)
    if len(reasons):
        lines += [f"<details><summary>{int(reasons['cells'].sum())} skipped cells</summary>", ""]
        lines += [
            f"- {n} × {md_escape(reason)}"
            for reason, n in zip(reasons["reason"][:MAX_PROBLEMS], reasons["cells"][:MAX_PROBLEMS])
        ]
        if len(reasons) > MAX_PROBLEMS:
            lines.append(f"- … and {len(reasons) - MAX_PROBLEMS} more reasons")
        lines += ["", "</details>", ""]
    if figures:
        # figure names are slugs ([A-Za-z0-9._-]): safe inside a code span
        lines.append("Figures: " + ", ".join(f"`{f.png.name}`" for f in figures))
    if report_seconds is not None:
        lines.append(f"\n_report made in {report_seconds:.1f} s_")
    return "\n".join(lines).rstrip() + "\n"
