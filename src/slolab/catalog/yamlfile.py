"""YAML documents that remember where each field came from.

Errors must name the file, the line and the field, so documents are composed node by node
and every mapping key and sequence item gets its line recorded under its path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from slolab import errors

Path_ = tuple[str | int, ...]


@dataclasses.dataclass
class Document:
    """One YAML document: its data, the file it came from, and a line for each field path."""

    data: Any
    file: str
    lines: dict[Path_, int]
    index: int = 0

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def dotted(path: Path_) -> str:
    """``('spec', 'containers', 0, 'image')`` → ``spec.containers[0].image``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], loader: yaml.SafeLoader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark
                )
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, child, lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_all(file: Path, display: str | None = None) -> list[Document]:
    """Every non-empty document of ``file``; bad YAML is a ManifestError with the line."""
    name = display or str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise errors.InputError(errors.Problem(name, "file not found")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InputError(errors.Problem(name, f"cannot read: {exc}")) from None
    loader = yaml.SafeLoader(text)
    docs: list[Document] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            data = _construct(node, (), lines, loader)
            if data is not None:
                docs.append(Document(data=data, file=name, lines=lines, index=index))
            index += 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise errors.ManifestError(
            errors.Problem(name, f"invalid YAML: {problem}", line=line),
            "Fix the indentation or quoting on that line; `slolab reset NAME` restores the lab's files.",
        ) from None
    finally:
        loader.dispose()
    return docs


def load_one(file: Path, display: str | None = None) -> Document:
    """A file that must hold exactly one mapping document."""
    name = display or str(file)
    docs = load_all(file, name)
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise errors.CatalogError(errors.Problem(name, "expected exactly one YAML mapping document"))
    return docs[0]
