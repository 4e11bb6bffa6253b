"""Per-cell seeds derived by hashing, so a cell's numbers do not depend on which
other cells run, nor in what order (benchopt's scheme)."""

from __future__ import annotations

import hashlib

__all__ = ["derive_seed", "make_generator"]


def derive_seed(*parts: object) -> int:
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") & (2**63 - 1)


def make_generator(seed: int, device: str = "cpu"):
    import torch

    return torch.Generator(device=device).manual_seed(seed)
