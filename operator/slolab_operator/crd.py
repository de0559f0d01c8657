"""The Lab CRD, read from its one copy in ``charts/slolab-operator/crds/``, and its spec schema.

The API server validates a Lab against the CRD's ``openAPIV3Schema`` before the operator sees
it, but the operator checks again with the same schema (jsonschema; the keywords the CRD uses
mean the same in JSON Schema), so that a spec that slipped past (an API server without the
CRD's validation, a CRD older than the operator) still ends in a clear ``InvalidSpec``
condition. Unknown spec fields are errors here, as with ``kubectl apply --validate=strict``.
Ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from slolab import paths
from slolab_operator import GROUP, PLURAL, VERSION

FILE_NAME = f"{PLURAL}.{GROUP}.yaml"


def path() -> Path:
    """``charts/slolab-operator/crds/labs.slolab.dev.yaml`` under slolab's root."""
    return paths.charts_dir() / "slolab-operator" / "crds" / FILE_NAME


@functools.cache
def _load(file: Path) -> dict[str, Any]:
    with file.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load(file: Path | None = None) -> dict[str, Any]:
    """The CRD as a dict (a copy)."""
    return copy.deepcopy(_load(file or path()))


def version(crd: Mapping[str, Any], name: str = VERSION) -> dict[str, Any]:
    """The ``spec.versions[]`` entry called ``name``."""
    for entry in crd["spec"]["versions"]:
        if entry["name"] == name:
            return entry
    raise KeyError(f"CRD {crd['metadata']['name']} has no version {name}")


def schema(crd: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of the served version."""
    return version(crd or load())["schema"]["openAPIV3Schema"]


def _strict(node: Any) -> Any:
    """A copy of an OpenAPI schema where objects with ``properties`` refuse unknown fields."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


@functools.cache
def _spec_validator(file: Path) -> jsonschema.protocols.Validator:
    spec_schema = _strict(schema(_load(file))["properties"]["spec"])
    return jsonschema.Draft202012Validator(spec_schema)


def _dotted(path: Any) -> str:
    out = "spec"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def spec_problems(spec: Any, file: Path | None = None) -> list[str]:
    """Every schema problem of a Lab's spec as ``spec.field: message``, sorted; [] when valid."""
    validator = _spec_validator(file or path())
    problems = []
    for error in validator.iter_errors(spec):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - known):
                where = _dotted([*error.absolute_path, key])
                problems.append(f"{where}: unknown field (known: {', '.join(sorted(known))})")
        else:
            problems.append(f"{_dotted(error.absolute_path)}: {error.message}")
    return sorted(problems)


def with_defaults(spec: Mapping[str, Any], file: Path | None = None) -> dict[str, Any]:
    """``spec`` with the CRD's ``default`` values filled in, as the API server would."""
    out = dict(spec)
    for key, prop in schema(_load(file or path()))["properties"]["spec"]["properties"].items():
        if key not in out and "default" in prop:
            out[key] = copy.deepcopy(prop["default"])
    return out
