"""YAML documents that remember where each field came from.

Errors must name the file, the line and the field, so documents are composed node by node
and every mapping key and sequence item gets its line recorded under its path.

Hostile or runaway input is refused before it costs time or memory, as kubectl and the API
server refuse it:

- a file larger than 256 KiB: slolab's own bound, below the API server's default request-body
  limit (3 MiB, k8s.io/apiserver v0.35 pkg/server/config.go ``MaxRequestBodyBytes``), so that
  the largest file accepted still parses in about a second (lab manifests are a few KiB);
- excessive aliasing, the "billion laughs" shape, by go-yaml's rule (gopkg.in/yaml.v2 v2.4.0
  decode.go ``allowedAliasRatio``, which kubectl and the API server read YAML with through
  sigs.k8s.io/yaml): once more than 1000 nodes are expanded, more than 100 of them through
  aliases, at most 99 % of them may come through aliases. Counted as go-yaml counts: every node
  expanded, keys included, and every node reached through an alias or a merge key (``<<``);
- slolab's own bounds, far above any manifest (a lab's Deployment expands to a few hundred
  nodes): at most 50 000 expanded nodes and 100 levels of nesting per document, and no alias
  inside the node it names. go-yaml's ratio scaling for documents of 400 000 to 4 000 000
  nodes is therefore never reached and not modelled.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from slolab import errors

Path_ = tuple[str | int, ...]

#: slolab's bound on a manifest file (the API server's own limit on a request body is 3 MiB)
MAX_FILE_BYTES = 256 * 1024
#: slolab's bound on the nodes one document expands to, aliases included
MAX_NODES = 50_000
#: slolab's bound on nesting (mappings and sequences) in one document
MAX_DEPTH = 100
#: go-yaml's excessive-aliasing rule below 400 000 nodes: checked past these counts ...
_ALIAS_CHECK_NODES = 1000
_ALIAS_CHECK_ALIASED = 100
#: ... at most this share of the expanded nodes may come through aliases
_ALIAS_RATIO = 0.99


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


#: libyaml's parser where PyYAML was built with it (about 6 times faster), else PyYAML's own;
#: both compose the same nodes and construct with SafeConstructor
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TooLarge(Exception):
    """A document broke one of the bounds in the module docstring; ``line`` is where."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclasses.dataclass
class _Walk:
    """One document's expansion: nodes seen (anchors' first use), counts, the open path."""

    loader: Any  # a yaml.SafeLoader or yaml.CSafeLoader
    lines: dict[Path_, int]
    seen: set[int] = dataclasses.field(default_factory=set)
    open: set[int] = dataclasses.field(default_factory=set)
    expanded: int = 0
    aliased: int = 0
    alias_depth: int = 0
    anchor_line: int = 0
    use_line: int = 0

    def count(self, node: yaml.Node) -> None:
        """Count one expanded node; raise _TooLarge once the document breaks a bound."""
        self.expanded += 1
        if self.alias_depth:
            self.aliased += 1
        if (
            self.aliased > _ALIAS_CHECK_ALIASED
            and self.expanded > _ALIAS_CHECK_NODES
            and self.aliased > _ALIAS_RATIO * self.expanded
        ):
            raise _TooLarge(
                "document contains excessive aliasing: "
                f"{self.aliased} of its first {self.expanded} nodes came through aliases "
                f"(expanding the anchor of line {self.anchor_line} used here)",
                self.use_line,
            )
        if self.expanded > MAX_NODES:
            raise _TooLarge(
                f"document expands to more than {MAX_NODES} nodes; a manifest has a few hundred",
                node.start_mark.line + 1,
            )

    def construct(self, node: yaml.Node, path: Path_, depth: int = 0) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self.open:
            raise _TooLarge(
                f"an alias is used inside the node it names (the anchor of line {node.start_mark.line + 1})",
                self.lines.get(path[:-1], node.start_mark.line + 1),
            )
        entering_alias = id(node) in self.seen
        if entering_alias:
            if not self.alias_depth:
                # the line of the container that uses the alias (an alias keeps no position)
                self.anchor_line = node.start_mark.line + 1
                self.use_line = self.lines.get(path[:-1], self.anchor_line)
            self.alias_depth += 1
        self.seen.add(id(node))
        self.count(node)
        try:
            if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
                if depth >= MAX_DEPTH:
                    raise _TooLarge(
                        f"document nests deeper than {MAX_DEPTH} levels", node.start_mark.line + 1
                    )
                self.open.add(id(node))
                try:
                    return self._children(node, path, depth)
                finally:
                    self.open.discard(id(node))
            return self.loader.construct_object(node, deep=True)
        finally:
            if entering_alias:
                self.alias_depth -= 1

    def _children(self, node: yaml.MappingNode | yaml.SequenceNode, path: Path_, depth: int) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return [self.construct(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        self.loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            self.count(key_node)
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark
                )
            child = (*path, key)
            self.lines[child] = key_node.start_mark.line + 1
            out[key] = self.construct(value_node, child, depth + 1)
        return out


def load_all(file: Path, display: str | None = None) -> list[Document]:
    """Every non-empty document of ``file``; bad YAML is a ManifestError with the line."""
    name = display or str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise errors.InputError(errors.Problem(name, "file not found")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InputError(errors.Problem(name, f"cannot read: {exc}")) from None
    size_bytes = len(text.encode("utf-8"))
    if size_bytes > MAX_FILE_BYTES:
        raise errors.ManifestError(
            errors.Problem(
                name, f"file is {size_bytes} bytes; slolab reads manifests of at most {MAX_FILE_BYTES}"
            ),
            "Split it into smaller files; `slolab reset NAME` restores the lab's files.",
        )
    loader = _SafeLoader(text)
    docs: list[Document] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            data = _Walk(loader, lines).construct(node, ())
            if data is not None:
                docs.append(Document(data=data, file=name, lines=lines, index=index))
            index += 1
    except _TooLarge as exc:
        raise errors.ManifestError(
            errors.Problem(name, f"invalid YAML: {exc}", line=exc.line),
            "Write the repeated parts out, or nest less; `slolab reset NAME` restores the lab's files.",
        ) from None
    except RecursionError:
        raise errors.ManifestError(
            errors.Problem(name, f"invalid YAML: nested deeper than {MAX_DEPTH} levels"),
            "Nest less; `slolab reset NAME` restores the lab's files.",
        ) from None
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
