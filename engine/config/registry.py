"""Registries: a name -> thing mapping that the recipe validates against.

Two flavours, both torch-free to *list*:

* :class:`Registry` holds entries added with ``@REG.register("name")``. The
  registered callables import torch inside their bodies, so listing names
  never imports torch.
* :class:`ModuleRegistry` discovers one module per entry in a package folder
  (``engine/datasets/moons.py`` is the dataset ``moons``) without importing
  them. Adding an entry means adding one file. Its module-level constants
  (``RESIDUAL = True``) can be read without importing it either
  (:meth:`ModuleRegistry.constants`), so a file that imports torch can still
  declare facts the torch-free side reads.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")


class Registry:
    """A named collection of entries (callables, or any object), filled with a decorator."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """``@REG.register("name")`` adds the decorated object; a second entry of one name is refused."""

        def add(fn: Any) -> Any:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = fn
            return fn

        return add

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Any:
        """The entry called ``name``; an unknown name raises KeyError listing the known ones."""
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
        """Every entry's name (its module's file name), sorted; packages and ``_private`` modules are not entries."""
        pkg = importlib.import_module(self.package)
        return sorted(
            m.name
            for m in pkgutil.iter_modules(pkg.__path__)
            if not m.name.startswith("_") and not m.ispkg and m.name not in self._skip
        )

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def module(self, name: str) -> ModuleType:
        """Import and return the entry's module; an unknown name raises KeyError listing the known ones."""
        if name not in self:
            raise KeyError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}")
        return importlib.import_module(f"{self.package}.{name}")

    def defined(self, name: str, base: type[T], key: str) -> type[T]:
        """The one subclass of ``base`` that the entry's module defines with ``<key> = name`` (a probe's
        ``name``, a rule's ``code``); a module that defines none, or several, is refused by name."""
        module = self.module(name)
        found = [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, base) and v is not base and getattr(v, key, None) == name
        ]
        if len(found) != 1:
            raise TypeError(
                f"{module.__name__} must define exactly one {base.__name__} subclass with "
                f"{key} = {name!r} (found {len(found)})"
            )
        return found[0]

    def constants(self, name: str) -> dict[str, Any]:
        """The entry's module-level ``UPPER_CASE = literal`` assignments, read from its source, not imported."""
        if name not in self:
            raise KeyError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}")
        spec = importlib.util.find_spec(f"{self.package}.{name}")
        if spec is None or spec.origin is None:  # pragma: no cover - names() found it
            raise KeyError(f"{self.kind} {name!r} has no source file")
        return dict(_literal_constants(spec.origin))


@cache
def _literal_constants(path: str) -> tuple[tuple[str, Any], ...]:
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id.isupper():
            try:
                found.append((target.id, ast.literal_eval(value)))
            except ValueError:
                continue  # not a literal (a computed constant): not a declaration
    return tuple(found)
