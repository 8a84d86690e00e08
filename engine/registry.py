"""Registries: a name -> thing mapping that the recipe validates against.

Two flavours, both torch-free to *list*:

* :class:`Registry` holds entries added with ``@REG.register("name")``. The
  registered callables import torch inside their bodies, so listing names
  never imports torch.
* :class:`ModuleRegistry` discovers one module per entry in a package folder
  (``engine/datasets/moons.py`` is the dataset ``moons``) without importing
  them. Adding an entry means adding one file.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any, Callable, Iterable


class Registry:
    """A named collection of callables, filled with a decorator."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = fn
            return fn

        return add

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Callable[..., Any]:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}") from None


class ModuleRegistry:
    """One module per entry, found by file name inside a package."""

    def __init__(self, kind: str, package: str, skip: Iterable[str] = ("base",)):
        self.kind = kind
        self.package = package
        self._skip = set(skip)

    def names(self) -> list[str]:
        pkg = importlib.import_module(self.package)
        return sorted(
            m.name
            for m in pkgutil.iter_modules(pkg.__path__)
            if not m.name.startswith("_") and m.name not in self._skip
        )

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def module(self, name: str) -> ModuleType:
        if name not in self:
            raise KeyError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}")
        return importlib.import_module(f"{self.package}.{name}")
