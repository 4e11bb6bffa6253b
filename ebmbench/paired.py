"""Paired differences to a reference row: "does this EBM beat the KDE — on the same data?"

Every seed of a task draws its own train / validation / test split (the data seed is a
hash of the base seed, the task and the repetition), and every model/method of a run
is trained and scored on the same draws. Much of a metric's spread over seeds is then
the draw's, shared by all rows: on 8gaussians at the full profile (5 draws, 95 %
bootstrap intervals) the oracle's grid NLL is 2.844 ± 0.0077 and the KDE's 2.850 ± 0.0072,
while the KDE's difference to the oracle, draw by draw, is 0.0059 ± 0.0009. Two means
with their own intervals cannot show a difference that small; the differences per draw
can.

`paired_differences` replaces each metric of each done cell by (its value − the
reference row's value on the same task and data seed), dropping cells whose draw the
reference did not measure. The result has the shape of a run's rows, so
`summary.aggregate` gives mean ± interval of the differences by the same rules as every
other table (t-interval up to 4 draws, bootstrap above) and `ebmbench show --metric M
--vs LABEL` pivots it like any metric. Below zero means lower than the reference: better
for a metric whose direction is "lower".
"""

from __future__ import annotations

from ebmbench.errors import UsageError, unknown_name

__all__ = ["PAIR_KEY", "paired_differences", "reference_label"]

# what makes two cells paired: the same task (with its parameters) and the same data draw
PAIR_KEY = ("task", "data_seed")


def reference_label(df, label: str) -> str:
    """`label` if some done cell of the rows has it, else a one-line error with the
    nearest labels."""
    done = df[df["status"] == "done"] if "status" in df else df
    labels = set(done["label"].dropna()) if "label" in done else set()
    if label not in labels:
        raise unknown_name("labels", label, labels, more="`ebmbench show --all-columns` lists them")
    return label


def paired_differences(df, metrics: list[str], reference: str):
    """Done cells other than `reference`'s, each metric minus the reference's value on the
    same task and data seed (the mean, if the reference has several cells on one draw).
    Columns: task, label, status, data_seed and the metrics (module doc)."""
    import pandas as pd

    if "data_seed" not in df or df["data_seed"].isna().all():
        raise UsageError("these rows record no data seed, so cells cannot be paired by data draw (--vs)")
    done = df[df["status"] == "done"]
    metrics = [m for m in metrics if m in done]
    values = done[metrics].apply(pd.to_numeric, errors="coerce").astype(float)
    keys = [done[k] for k in PAIR_KEY]
    is_ref = done["label"] == reference
    ref = values[is_ref].groupby([k[is_ref] for k in keys]).mean()
    ref.index.names = list(PAIR_KEY)
    others = done[~is_ref]
    matched = others[list(PAIR_KEY)].join(ref, on=list(PAIR_KEY))[metrics]
    diffs = values[~is_ref] - matched
    out = others[["task", "label", "status", "data_seed"]].join(diffs)
    return out[diffs.notna().any(axis=1)].reset_index(drop=True)
