"""The one YAML loader for recipe files, ``--set`` values and dashboard links, with bounds.

PyYAML's safe loader never runs code, but on its own it will build whatever a
text describes: nine aliases nested seven deep stand for 40 million values
(a ~350-byte "billion laughs" link), ``[`` repeated 500 times overflows the
recursion limit, and a repeated key silently replaces the first. This loader
refuses all three, before anything downstream (pydantic, an error message, a
URL encoder) walks the result: it caps the text's size, the depth while
composing, the node count *after* alias expansion (counted on the node graph,
so counting costs no more than the text), and refuses duplicate keys.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from engine.config import limits
from engine.config.errors import RecipeError

_MERGE = "tag:yaml.org,2002:merge"


class YamlLimitError(RecipeError):
    """The text is valid YAML but over a cap, or repeats a key; the message says which."""


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, plus floats written like ``1e-3`` (YAML 1.1 wants ``1.0e-3``), with bounds."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # The composer recurses once per level; stop long before Python's recursion limit.
        self._depth += 1
        try:
            if self._depth > limits.MAX_YAML_DEPTH:
                raise YamlLimitError(f"nested deeper than {limits.MAX_YAML_DEPTH} levels (line {_line(self)})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _check_expanded(node)
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    raise YamlLimitError(f"key {_short(key)} appears twice (line {key_node.start_mark.line + 1})")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _line(loader: _Loader) -> int:
    mark = loader.peek_event().start_mark if loader.check_event() else None
    return (mark.line + 1) if mark is not None else 0


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= limits.EXCERPT_CHARS else text[: limits.EXCERPT_CHARS - 1] + "…"


def _check_expanded(root: Any) -> None:
    """Refuse a node graph whose expansion (every alias replaced by its anchor) is too big or too deep.

    Sizes are memoised per node, so a graph with shared (aliased) nodes is walked once, not expanded.
    A recursive alias (``&a [*a]``) has no finite expansion and is refused too.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    # An explicit stack instead of recursion: composing already bounded the depth, but not a
    # recursive alias, which the "visiting" state catches.
    visiting: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            visiting.discard(key)
            if size[key] > limits.MAX_YAML_NODES:
                raise YamlLimitError(
                    f"stands for more than {limits.MAX_YAML_NODES:,} values once its aliases are expanded"
                )
            if depth[key] > limits.MAX_YAML_DEPTH:
                raise YamlLimitError(f"nests deeper than {limits.MAX_YAML_DEPTH} levels once its aliases are expanded")
            continue
        if key in size:
            continue
        if key in visiting:
            raise YamlLimitError(f"an alias refers to itself (line {node.start_mark.line + 1})")
        visiting.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load(text: str, what: str = "the text", max_chars: int = limits.MAX_RECIPE_BYTES) -> Any:
    """Safe-load YAML ``text`` within the caps; data only, never code.

    ``what`` names the source in messages (a file name, ``--set train.lr``). Raises
    :class:`YamlLimitError` over a cap and ``yaml.YAMLError`` for text that is not YAML.
    """
    if len(text) > max_chars:
        raise YamlLimitError(f"{what} is {len(text):,} characters; the limit is {max_chars:,}")
    try:
        return yaml.load(text, Loader=_Loader)
    except YamlLimitError as exc:
        raise YamlLimitError(f"{what}: {exc}") from None
    except RecursionError:  # a guard, should the composer's own bound ever be raised above the limit
        raise YamlLimitError(f"{what}: nested too deeply") from None
