"""Offline, strict schema validation of Kubernetes manifests, every problem at once.

Uses the JSON schemas that ship with ``kubernetes-validate`` (Kubernetes 1.25 to 1.37, the
``-local-strict`` variant, where an unknown field is an error) but runs the jsonschema
validator itself, so that all errors of a document are reported rather than the first one,
each with the file, the line, the dotted field and a plain-English message::

    workspace/lab-01/deployment.yaml:31: spec.template.spec.containers[0].imagePulPolicy:
        unknown field 'imagePulPolicy' (did you mean 'imagePullPolicy'?)

Validators are built once per (Kubernetes version, kind, apiVersion). Kinds without a schema
(custom resources such as a KEDA ScaledObject) give no problems; the caller decides. A document
the schema accepts is then held to the API server's port-range rules (catalog.apivalidation).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from typing import Any

import jsonschema
import referencing
from kubernetes_validate import utils as kv

from slolab import errors
from slolab.catalog import apivalidation, kindconfig, yamlfile

#: The Kubernetes version manifests are validated for: that of kind-config.yaml's node image.
DEFAULT_KUBE_VERSION = kindconfig.KUBERNETES_VERSION


def _minor(version: str) -> tuple[int, int]:
    match = re.match(r"v?(\d+)\.(\d+)", version)
    if not match:
        raise ValueError(f"not a Kubernetes version: {version!r} (expected e.g. 1.36.0)")
    return int(match.group(1)), int(match.group(2))


@functools.cache
def _schema_dir(kube_version: str) -> str:
    """The ``v<x.y.z>-local-strict`` directory for the newest schemas not newer than asked."""
    wanted = _minor(kube_version)
    shipped = [v for v in kv.all_versions() if _minor(v) <= wanted]
    if not shipped:
        oldest = kv.all_versions()[0]
        raise ValueError(f"no schemas for Kubernetes {kube_version}; the oldest shipped is {oldest}")
    if wanted > _minor(kv.latest_version()):
        raise ValueError(f"no schemas for Kubernetes {kube_version}; the newest is {kv.latest_version()}")
    return f"v{shipped[-1]}-local-strict"


@functools.cache
def _registry(schema_dir: str) -> referencing.Registry:
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir)
    return referencing.Resource.from_contents(definitions) @ referencing.Registry()


@functools.cache
def _validator(schema_dir: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    """The validator for one kind, or None when no schema ships for it (a CRD)."""
    # kubernetes-validate names files <kind>-<group without domain>-<version>.json:
    # apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    name = f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json"
    try:
        schema = kv.schema_contents(name, schema_dir)
    except FileNotFoundError:
        return None
    registry = referencing.Resource.from_contents(schema) @ _registry(schema_dir)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def has_schema(kind: str, api_version: str, kube_version: str = DEFAULT_KUBE_VERSION) -> bool:
    """Whether ``kind`` in ``api_version`` is a core kind this module can check."""
    return _validator(_schema_dir(kube_version), kind, api_version) is not None


# -- messages --------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean (true or false)",
}


def _expected(types: Iterable[str]) -> str:
    words: list[str] = []
    for t in types:
        if t != "null" and _TYPE_WORDS.get(t, t) not in words:
            words.append(_TYPE_WORDS.get(t, t))
    if "integer" in words and "number" in words:
        words.remove("integer")
    return " or ".join(words) or "null"


def _types_of(schema: Any) -> list[str]:
    found = schema.get("type", []) if isinstance(schema, dict) else []
    return [found] if isinstance(found, str) else list(found)


Path_ = tuple[str | int, ...]


def _problems(error: jsonschema.ValidationError) -> Iterable[tuple[Path_, str]]:
    """(field path, message) pairs for one jsonschema error."""
    path: Path_ = tuple(error.absolute_path)
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        for key in error.instance:
            if key in known:
                continue
            message = f"unknown field {str(key)!r}"
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.75)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            yield (*path, key), message
    elif keyword == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance:
                yield (*path, name), f"required field {name!r} is missing"
    elif keyword == "type":
        yield path, f"expected {_expected(_types_of(error.schema))}, got {_describe(error.instance)}"
    elif keyword == "oneOf":
        types = [t for sub in error.validator_value for t in _types_of(sub)]
        if types:
            yield path, f"expected {_expected(types)}, got {_describe(error.instance)}"
        else:
            yield path, error.message
    elif keyword == "enum":
        choices = ", ".join(repr(c) for c in error.validator_value)
        yield path, f"expected one of {choices}, got {_describe(error.instance)}"
    else:
        yield path, error.message


def _skip(error: jsonschema.ValidationError) -> bool:
    # A null int-or-string (maxSurge: ~) matches both branches of the schema's oneOf;
    # the API server treats it as unset.
    return error.validator == "oneOf" and error.instance is None


# -- public API ------------------------------------------------------------------------------


def validate(doc: yamlfile.Document, kube_version: str = DEFAULT_KUBE_VERSION) -> list[errors.Problem]:
    """Every schema problem of one document, sorted by line; [] for kinds without a schema."""
    data = doc.data
    if not isinstance(data, dict):
        return [errors.Problem(doc.file, "expected a Kubernetes object (a mapping)", line=doc.line_of(()))]
    missing = [
        errors.Problem(doc.file, f"required field {key!r} is missing", field=key, line=doc.line_of(()))
        for key in ("apiVersion", "kind")
        if not isinstance(data.get(key), str) or not data.get(key)
    ]
    if missing:
        return missing
    validator = _validator(_schema_dir(kube_version), data["kind"], data["apiVersion"])
    if validator is None:
        return []
    seen: set[tuple[Path_, str]] = set()
    problems: list[errors.Problem] = []
    for error in validator.iter_errors(data):
        if _skip(error):
            continue
        for path, message in _problems(error):
            if (path, message) in seen:
                continue
            seen.add((path, message))
            problems.append(
                errors.Problem(doc.file, message, field=yamlfile.dotted(path), line=doc.line_of(path))
            )
    if not problems:
        problems = apivalidation.port_problems(doc)
    problems.sort(key=lambda p: (p.line or 0, p.field or ""))
    return problems


def validate_all(
    docs: Iterable[yamlfile.Document], kube_version: str = DEFAULT_KUBE_VERSION
) -> list[errors.Problem]:
    """The problems of several documents, in order."""
    return [p for doc in docs for p in validate(doc, kube_version)]
