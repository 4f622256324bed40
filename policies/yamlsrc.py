"""YAML that remembers where each value came from, so that every error can name its line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from policies.errors import PolicyError


class LineDict(dict[Any, Any]):
    """A mapping plus the 1-based line of the mapping itself and of each of its keys."""

    line: int
    key_lines: dict[Any, int]


class LineList(list[Any]):
    """A sequence plus the 1-based line of the sequence and of each of its items."""

    line: int
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader (no arbitrary objects) that refuses duplicate keys and records lines."""

    def construct_mapping(self, node: Node, deep: bool = False) -> LineDict:
        if not isinstance(node, MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {getattr(node, 'id', 'node')}", node.start_mark
            )
        self.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                ) from None
            if key in result:
                # PyYAML would silently keep the last one: a rule defined twice is a mistake to report.
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first at line {result.key_lines[key]})",
                    key_node.start_mark,
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: Node, deep: bool = False) -> LineList:
        if not isinstance(node, SequenceNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a sequence, found {getattr(node, 'id', 'node')}", node.start_mark
            )
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence)


def load_yaml(text: str, file: str) -> Any:
    """Parse one document; a syntax error becomes a PolicyError at the line PyYAML points to."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        raise PolicyError(
            file,
            line,
            f"YAML syntax error: {problem}",
            "check indentation and quoting (a ':' or '#' inside a phrase needs quotes)",
        ) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML refuses (NUL, most controls): no mark, but its position in the text.
        line = text.count("\n", 0, exc.position) + 1
        raise PolicyError(file, line, f"YAML error: character {_code_point(exc.character)} is not allowed",
                          "remove it, or write it escaped inside a double-quoted string") from None
    except yaml.YAMLError as exc:
        raise PolicyError(file, None, f"YAML error: {exc}", "fix the file's syntax") from None


def _code_point(character: int | str | bytes) -> str:
    code = character if isinstance(character, int) else ord(character)
    return f"U+{code:04X}"


def line_of(doc: Any, path: Sequence[str | int]) -> int | None:
    """The line of the deepest node along ``path`` that exists in ``doc``.

    Unknown path elements (pydantic adds tags such as ``function-before[...]`` to locations) are
    skipped, so a validation error's location always maps to the closest line we know.
    """
    line: int | None = getattr(doc, "line", None)
    node = doc
    for element in path:
        if isinstance(node, LineDict) and element in node:
            line = node.key_lines.get(element, line)
            node = node[element]
        elif isinstance(node, LineList) and isinstance(element, int) and 0 <= element < len(node):
            line = node.item_lines[element]
            node = node[element]
        else:
            continue
    return line
