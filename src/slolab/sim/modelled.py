"""Which fields of which kinds the simulator models; everything else is a clear error.

A field is *modelled* when the simulator reproduces its documented behaviour, or *inert* when
it has no effect on anything the simulator models (labels, security context, volume mounts)
and is accepted as such. Anything else, even valid Kubernetes, raises NotModelledError with
the file, line and field, so a learner never trusts a grade that ignored part of their fix.
The tables are the controllers' own declarations (``sim/registry.py``): each kind's fields sit
next to the controller that models them, pod spec fields next to the kubelet and scheduler.
"""

from __future__ import annotations

import functools
from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import registry


def _match(pattern: list[str], path: list[str]) -> bool:
    for i, part in enumerate(pattern):
        if part == "**":
            return True
        if i >= len(path):
            return False
        if part != "*" and part != path[i]:
            return False
    return len(path) == len(pattern)


def _split(pattern: str) -> list[str]:
    out: list[str] = []
    for piece in pattern.split("."):
        while "[" in piece:
            head, _, rest = piece.partition("[")
            if head:
                out.append(head)
            out.append("*")
            piece = rest.partition("]")[2]
        if piece:
            out.append(piece)
    return out


@functools.cache
def _compiled() -> dict[tuple[str, str], list[list[str]]]:
    out = {}
    for key, kind in registry.applyable().items():
        modelled, inert = registry.fields(kind)
        out[key] = [_split(p) for p in (*modelled, *inert)]
    return out


def fields(api_version: str, kind: str) -> tuple[str, ...]:
    """Every accepted field pattern of a kind (modelled and inert), for messages and docs."""
    modelled, inert = registry.fields(registry.applyable()[(api_version, kind)])
    return (*modelled, *inert)


def _leaves(data: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(data, dict) and data:
        return [leaf for k, v in data.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(data, list) and data:
        return [leaf for i, v in enumerate(data) for leaf in _leaves(v, (*path, i))]
    return [path]


def _prefix_possible(pattern: list[str], prefix: list[str]) -> bool:
    for i, part in enumerate(prefix):
        if i >= len(pattern):
            return False
        if pattern[i] == "**":
            return True
        if pattern[i] != "*" and pattern[i] != part:
            return False
    return True


def check(doc: yamlfile.Document) -> list[errors.Problem]:
    """A Problem for each field of ``doc`` the simulator does not model (each block once)."""
    data = doc.data
    key = (data.get("apiVersion"), data.get("kind"))
    compiled = _compiled()
    if key not in compiled:
        kinds = ", ".join(f"{k} ({v})" for v, k in compiled)
        return [
            errors.Problem(
                doc.file,
                f"kind {key[1]} ({key[0]}) is not modelled by the simulator; it models {kinds}",
                field="kind",
                line=doc.line_of(("kind",)),
            )
        ]
    patterns = compiled[key]
    problems: list[errors.Problem] = []
    seen: set[tuple] = set()
    for leaf in _leaves(data):
        parts = ["*" if isinstance(p, int) else str(p) for p in leaf]
        if any(_match(p, parts) for p in patterns):
            continue
        # report the first field on the way down that no modelled field lies under
        cut = len(leaf)
        for k in range(1, len(leaf) + 1):
            if not any(_prefix_possible(p, parts[:k]) for p in patterns):
                cut = k
                break
        head = leaf[:cut]
        if head in seen:
            continue
        seen.add(head)
        problems.append(
            errors.Problem(
                doc.file,
                "is not modelled by the simulator",
                field=yamlfile.dotted(head),
                line=doc.line_of(head),
            )
        )
    return problems
