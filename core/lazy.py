"""Modules imported when first used.

numpy, scipy and scikit-learn take a large share of start-up (about a third of ``create_app``), yet only
the analytics refresh and a few metrics need them. A module that uses them at call time only names
them through :func:`lazy_module`; nothing is imported until an attribute is first read.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``; the first attribute read imports it (then reads go straight to it)."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}{'' if self._module is None else ' (imported)'}>"


def lazy_module(name: str) -> Any:
    """``np = lazy_module("numpy")``: ``np.array(...)`` imports numpy the first time it runs."""
    return LazyModule(name)
