"""`lazy_import`: a module object whose real import happens on first attribute use.

Plugin modules are imported whenever the catalog is listed; importing torch costs
~1.5 s, so built-in plugins bind `torch = lazy_import("torch")` and pay it only
when they compute (llm #732: eager heavy imports made `llm --help` 8x slower).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["lazy_import"]


def lazy_import(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
