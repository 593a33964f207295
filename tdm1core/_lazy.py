"""Lazy package attributes (PEP 562): a name is imported from its module on first use, so a command loads only
what it needs (``python -m tdm1core km`` never loads the ddPCR reader, scipy.stats or the cohort tables)."""
from __future__ import annotations

from importlib import import_module
from typing import Any, Callable


def lazy_getattr(package: str, where: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``package.<where[name]>`` once and keeps it in ``namespace``."""
    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(import_module(f".{where[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
