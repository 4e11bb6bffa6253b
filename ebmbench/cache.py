"""A small on-disk cache for deterministic, expensive artefacts (reference densities,
feature classifiers), keyed by name and the source hash of the code that makes them.

Arrays are stored as `.npz` and read with `allow_pickle=False`: no pickle anywhere.
The folder is `$EBMBENCH_CACHE_DIR`, else `~/.cache/ebmbench`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["cache_dir", "cached_arrays"]


def cache_dir() -> Path:
    root = os.environ.get("EBMBENCH_CACHE_DIR") or Path.home() / ".cache" / "ebmbench"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_arrays(key: str, make: Callable[[], dict], version: str = "") -> dict:
    """Return the dict of NumPy arrays stored under `key`, computing it once with `make()`.

    `version` should change whenever the result would (e.g. the maker's source hash).
    """
    import numpy as np

    digest = hashlib.sha256(f"{key}|{version}".encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    path = cache_dir() / f"{safe}-{digest}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a torn or foreign file: recompute
    arrays = {k: np.asarray(v) for k, v in make().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return arrays
