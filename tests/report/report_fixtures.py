"""A synthetic run folder for the report tests, written through the real RunStore.

Training a grid would take minutes; the report only reads results.parquet,
curves.parquet, run.json and artifacts/*.npz, so the tests write those with known
numbers: every figure kind applies, every status occurs, and some names are
hostile (`<script>`, `$`, `|`) to prove they are escaped everywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from ebmbench.results.store import RunStore

XSS = "<script>alert(1)</script>"
DIRECTIONS = {"mmd2": "lower", "auroc": "higher", "beta_cal": "none", "inference_error": "lower"}
MAIN = {"toy": "mmd2", "horn": "inference_error", "line": "inference_error", "digits": "mmd2", "digits-inpaint": "mmd2"}
HEADLINES = {"toy": ["auroc", "beta_cal"], "horn": ["mmd2"], "line": ["mmd2"], "digits": ["auroc"]}
# (model label, model params, method label) -> quality offset: lower mmd2 is better
PAIRS = [
    ("mlp", {}, "pcd", 0.0),
    ("mlp", {}, "dsm", 0.5),
    ("mlp", {}, XSS, 1.0),
    ("kmeans[beta=1.0]", {"beta": 1.0}, "kmeans", 0.8),
    ("kmeans[beta=10.0]", {"beta": 10.0}, "kmeans", 0.4),
    ("kmeans[beta=inf]", {"beta": math.inf}, "kmeans", 0.2),
    ("mlp[w=$5|a_{$]", {"w": "$5|a_{$"}, "nce", 0.6),
]  # mathtext if unescaped


def _meta(run_id: str) -> dict:
    plugin = {
        "name": XSS,
        "module": "evil",
        "dist": None,
        "version": "6.6.6",
        "status": "failed",
        "error": f"ImportError: {XSS}",
        "hooks": ["ebmbench_register_methods"],
        "entries": [f"methods:{XSS}"],
    }
    good = {
        "name": "methods.pcd",
        "module": "ebmbench_plugins.methods.pcd",
        "dist": "ebmbench",
        "version": "0.1.0",
        "status": "loaded",
        "error": None,
        "hooks": ["ebmbench_register_methods"],
        "entries": ["methods:pcd"],
    }
    return {
        "run_id": run_id,
        "ebmbench_version": "0.1.0",
        "status": "finished",
        "started": "2026-01-01T00:00:00+00:00",
        "ended": "2026-01-01T00:10:00+00:00",
        "command": ["ebmbench", "run", "--all", "--seeds", "3", "-M", XSS],
        "profile": {"name": "smoke", "seeds": 1},
        "n_cells": 0,
        "python": "3.11",
        "torch": "2.13",
        "platform": "Linux",
        "machine": "x86_64",
        "metric_directions": DIRECTIONS,
        "main_metrics": MAIN,
        "headline_metrics": HEADLINES,
        "plugins": [good, plugin],
        "entries": {
            "methods": {
                "pcd": {
                    "plugin": "methods.pcd",
                    "dist": "ebmbench",
                    "version": "0.1.0",
                    "source_hash": "086ed6a0901741db",
                },
                XSS: {"plugin": XSS, "dist": None, "version": "6.6.6", "source_hash": "beef"},
            },
            # what the classes declare (registry.report_metadata): the report draws by it
            "models": {
                "kmeans": {"plugin": "models.prototypes", "inverse_temperature_param": "beta"},
                "mlp": {"plugin": "models.mlp", "inverse_temperature_param": None},
            },
            "metrics": {
                "mmd2": {"plugin": "metrics.sample_quality", "unbiased_nonnegative": True},
                "sampler_grad_evals": {"plugin": "metrics.diagnostics", "sampling_cost_per_sample": True},
            },
            "tasks": {"digits": {"plugin": "tasks.digits", "image_shape": [8, 8]}},
        },
    }


def _artifacts(task: str, rng, quality: float) -> dict:
    if task == "toy":
        g = np.linspace(-4.5, 4.5, 40)
        yy, xx = np.meshgrid(g, g, indexing="ij")
        energy = ((xx**2 + yy**2) ** 0.5 - 2.5) ** 2 * (2 - quality)
        return {
            "grid_energy": energy,
            "grid_extent": [-4.5, 4.5, -4.5, 4.5],
            "samples": rng.normal(size=(100, 2)) * 2,
            "data": rng.normal(size=(100, 2)) * 2,
        }
    if task == "horn":
        xs = np.linspace(0, 1, 5)
        theta = rng.uniform(0, 2 * np.pi, size=(5, 40))
        ring = np.stack([np.cos(theta), np.sin(theta)], -1) * (1 + xs[:, None, None])
        return {
            "cond_x": xs,
            "cond_true": ring,
            "cond_argmin": ring[:, :8] + quality * 0.1,
            "cond_energy": rng.normal(size=(5, 8)),
        }
    if task == "line":
        xs = np.linspace(0, 1, 25)
        true = np.stack([np.sin(6 * xs)[:, None] + rng.normal(size=(25, 20)) * 0.05], -1)
        e = (np.linspace(-2, 2, 30)[:, None] - np.sin(6 * np.linspace(0, 1, 15))[None]) ** 2
        return {
            "cond_x": xs,
            "cond_true": true,
            "cond_argmin": true[:, :4] + quality * 0.1,
            "cond_energy": rng.normal(size=(25, 4)),
            "cond_grid_energy": e,
            "cond_grid_extent": [0, 1, -2, 2],
        }
    if task == "digits":
        img = rng.uniform(size=(32, 64))
        return {
            "image_shape": [8, 8],
            "pixel_range": [0.0, 1.0],
            "images": img,
            "nearest": img[::-1],
            "real": rng.uniform(size=(16, 64)),
        }
    return {
        "image_shape": [8, 8],
        "pixel_range": [0.0, 1.0],
        "inpaint_x": rng.uniform(size=(8, 32)),
        "inpaint_true": rng.uniform(size=(8, 32)),
        "inpaint_pred": rng.uniform(size=(8, 32)),
        "nearest": rng.uniform(size=(8, 64)),
    }


def make_run(root: Path, seeds: int = 3, artifacts: bool = True, problems: bool = True) -> Path:
    """Write a run with known numbers; returns its folder."""
    rng = np.random.default_rng(0)
    store = RunStore.create(root, "20260101-000000-test", _meta("20260101-000000-test"))
    for task in MAIN:
        for model, mparams, method, q in PAIRS:
            label = f"{model}/{method}"
            for rep in range(seeds):
                status, reason, tb = "done", None, None
                if problems and task == "toy" and method == "nce" and rep == 1:
                    status, reason, tb = "error", f"ValueError: bad {XSS}", f"Traceback\n  {XSS}\nValueError"
                if problems and task == "toy" and method == "dsm" and rep == 2:
                    status, reason = "diverged", "non-finite loss=nan at step 3"
                if problems and task == "horn" and model.startswith("kmeans"):
                    status, reason = "skipped", "model kmeans supports unconditional tasks, horn is conditional"
                cell_id = hashlib.sha256(f"{task}|{label}|{rep}".encode()).hexdigest()[:12]
                row = {
                    "run_id": store.run_id,
                    "cell_id": cell_id,
                    "task": task,
                    "model": model,
                    "method": method,
                    "label": label,
                    "model_params": json.dumps(mparams, sort_keys=True),
                    "method_params": "{}",
                    "rep": rep,
                    "seed": rep,
                    "status": status,
                    "reason": reason,
                    "traceback": tb,
                    "train_time_s": 1.0 + 10 * q + 0.1 * rep,
                    "wall_time_s": 2.0,
                    "eval_time_s": 0.5,
                    "peak_mem_mb": 100.0,
                    "grad_evals": 10,
                }
                if status == "done":
                    row.update(
                        mmd2=q + 0.01 * rep,
                        auroc=1 - q / 2 + 0.01 * rep,
                        beta_cal=1.5,
                        inference_error=q + 0.02 * rep if task in ("horn", "line") else None,
                    )
                curve = []
                if status in ("done", "diverged"):
                    for step in range(0, 60, 2):
                        point = {
                            "step": step,
                            "time_s": step * (0.01 + 0.001 * rep),
                            "loss": math.exp(-step / 20) + q + 0.01 * rep,
                            "energy_gap": 1 - math.exp(-step / 10),
                        }
                        if method == "pcd":
                            point["buffer_age"] = step / 10
                        curve.append(point)
                store.add(row, curve)
                if artifacts and status == "done" and rep == 0:
                    store.add_artifacts(
                        cell_id, {k: np.asarray(v).tolist() for k, v in _artifacts(task, rng, q).items()}
                    )
    store.meta["n_cells"] = len(list(store.parts.glob("*.parquet"))) - len(list(store.parts.glob("*.curves.parquet")))
    store.compact()
    store.write_meta()
    return store.dir
