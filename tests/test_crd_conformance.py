"""Every custom resource slolab renders validates against the upstream CRD that defines it.

What is checked: every object whose kind kubernetes-validate has no schema for (a KEDA
ScaledObject, an Argo Rollout or AnalysisTemplate, a PodMonitor, Chaos Mesh kinds, ...)
rendered by
- every chart under charts/ with its defaults and each ``ci/*-values.yaml`` (rendered the way
  ``slolab lint`` renders them, slolab.lint.render),
- every lab: the fault, the reference solution, each other correct fix (alternatives/) and each
  mutation (slolab.workspace.variants),
- the research examples beside the CRDs (``shared/research/examples``), when present,
against the ``openAPIV3Schema`` of the served version of the matching CRD in the upstream CRD
folder (``shared/crds``: KEDA v2.20.2, Argo Rollouts, prometheus-operator v0.93.1, Chaos Mesh
v2.8.3; never copied into this repository). The folder is ``$SLOLAB_UPSTREAM_CRDS``, else
``<repo>/../shared/crds``, else ``/work/shared/crds``. Without it every test here is skipped with
a reason naming the paths tried, unless ``SLOLAB_REQUIRE_UPSTREAM_CRDS=1`` (CI sets it): then
they fail. The Lab CRD (``slolab.dev``) is charts/slolab-operator's and is tested with it.

How a structural schema (OpenAPI v3.0 subset, Kubernetes "structural schema" rules) becomes a
jsonschema validation, as ``kubectl apply`` with its default ``--validate=strict`` (server-side
field validation Strict) would judge the object:
- Draft 4 semantics, which OpenAPI 3.0 schemas follow (boolean ``exclusiveMinimum``, ...).
- Unknown fields: the API server prunes them, and with Strict field validation it rejects them.
  So an object schema (``type: object``) that neither sets ``additionalProperties`` nor
  ``x-kubernetes-preserve-unknown-fields: true`` gets ``additionalProperties: false``, in
  structural positions only (properties, items, additionalProperties). The branches of allOf,
  anyOf, oneOf and not only add value checks in a structural schema, so they are never closed.
- ``nullable: true`` admits null; every other null is pruned before validation, as the API
  server prunes nulls of non-nullable fields.
- ``x-kubernetes-int-or-string``: an integer or a string. ``x-kubernetes-embedded-resource``:
  apiVersion, kind and metadata are allowed. ``x-kubernetes-list-type: set``: unique items;
  ``map``: items unique by ``x-kubernetes-list-map-keys``.
- The root ``metadata`` (the CRD says only ``type: object``; the API server checks ObjectMeta
  itself) is validated as ObjectMeta with kubernetes-validate's strict schema (lint.KUBE_VERSION).
- ``x-kubernetes-validations`` (CEL): there is no CEL evaluator here. Transition rules (they
  use ``oldSelf``) do not apply when an object is created; any other rule must be listed in
  KNOWN_RULES, which evaluates it in Python, or the object fails with the rule named.
- ``format`` is not checked (int32/int64 ranges, date-time), nor defaults applied.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml
from kubernetes_validate import utils as kv

from slolab import lint, paths
from slolab.catalog import lab as lab_mod
from slolab.catalog import yamlfile
from slolab.workspace import variants

# every chart and lab is rendered with helm (slolab.lint.render, slolab.workspace.variants)
pytestmark = pytest.mark.helm

KUBE_VERSION = lint.KUBE_VERSION
OWN_GROUPS = {"slolab.dev"}  # validated against charts/slolab-operator's own CRD, not here
NOT_RESOURCES = {"kind.x-k8s.io"}  # kind's Cluster config is read by kind, not an API server
ENV_DIR = "SLOLAB_UPSTREAM_CRDS"
ENV_REQUIRE = "SLOLAB_REQUIRE_UPSTREAM_CRDS"


# -- where the CRDs are ----------------------------------------------------------------------


def _candidates() -> list[Path]:
    found = [Path(os.environ[ENV_DIR])] if os.environ.get(ENV_DIR) else []
    return [*found, paths.root().parent / "shared" / "crds", Path("/work/shared/crds")]


def require_crd_dir(candidates: list[Path]) -> Path:
    """The first candidate that holds CRD YAML; otherwise skip, or fail when CI requires them."""
    found = next((p for p in candidates if p.is_dir() and any(p.glob("*.yaml"))), None)
    if found is not None:
        return found
    tried = ", ".join(str(p) for p in candidates)
    message = (
        f"upstream CRDs not found (tried {tried}); set {ENV_DIR}=<folder of CRD YAML files> "
        f"to run the CRD conformance tests"
    )
    if os.environ.get(ENV_REQUIRE) == "1":
        pytest.fail(f"{message}. {ENV_REQUIRE}=1 requires them.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def crd_dir() -> Path:
    """The upstream CRD folder; skip (or fail under SLOLAB_REQUIRE_UPSTREAM_CRDS=1) without it."""
    return require_crd_dir(_candidates())


def test_without_the_folder_it_skips_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_REQUIRE, raising=False)
    absent = [tmp_path / "nowhere", tmp_path / "empty"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(pytest.skip.Exception) as info:
        require_crd_dir(absent)
    assert f"tried {absent[0]}, {absent[1]}" in str(info.value)
    monkeypatch.setenv(ENV_REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{ENV_REQUIRE}=1 requires them"):
        require_crd_dir(absent)


def test_the_env_folder_is_tried_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    assert _candidates()[0] == tmp_path
    assert _candidates()[1:] == [paths.root().parent / "shared" / "crds", Path("/work/shared/crds")]


# -- structural schema -> jsonschema ---------------------------------------------------------

#: CEL rules evaluated in Python, by their text (whitespace collapsed). The only create-time
#: rule in the CRDs here is KEDA's (keda.sh_scaledobjects.yaml, on ScaledObject.spec).
KNOWN_RULES: dict[str, Callable[[Any], bool]] = {
    "!has(self.minReplicaCount) || self.minReplicaCount <= "
    "(has(self.maxReplicaCount) ? self.maxReplicaCount : 100)": lambda s: (
        "minReplicaCount" not in s or s["minReplicaCount"] <= s.get("maxReplicaCount", 100)
    ),
}


def _rule_text(rule: str) -> str:
    return " ".join(rule.split())


_JUNCTORS = ("allOf", "anyOf", "oneOf")


def convert(node: Any, *, structural: bool = True) -> Any:
    """A jsonschema (Draft 4) schema for one structural-schema node; see the module docstring."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in ("properties", "patternProperties"):
        if isinstance(out.get(key), dict):
            out[key] = {k: convert(v) for k, v in out[key].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = convert(out["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = convert(out["additionalProperties"])
    for key in _JUNCTORS:
        if isinstance(out.get(key), list):
            out[key] = [convert(branch, structural=False) for branch in out[key]]
    if isinstance(out.get("not"), dict):
        out["not"] = convert(out["not"], structural=False)
    if out.get("x-kubernetes-int-or-string"):
        # The flag carries the check (one message); the usual anyOf [integer, string] is dropped.
        out.pop("type", None)
        if out.get("anyOf") == [{"type": "integer"}, {"type": "string"}]:
            del out["anyOf"]
    if out.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if out.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if (
        structural
        and out.get("type") == "object"
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def prune_nulls(instance: Any, schema: Any) -> Any:
    """``instance`` without the null fields the API server would prune (those not nullable)."""
    if isinstance(instance, dict):
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        extra = schema.get("additionalProperties") if isinstance(schema, dict) else None
        out = {}
        for key, value in instance.items():
            sub = props.get(key, extra if isinstance(extra, dict) else {})
            if value is None and not sub.get("nullable"):
                continue
            out[key] = prune_nulls(value, sub)
        return out
    if isinstance(instance, list):
        items = schema.get("items", {}) if isinstance(schema, dict) else {}
        return [prune_nulls(item, items) for item in instance]
    return instance


def _int_or_string(validator: Any, flag: Any, instance: Any, schema: dict) -> Iterator[Any]:
    if flag and (isinstance(instance, bool) or not isinstance(instance, int | str)):
        yield jsonschema.ValidationError(f"{instance!r} is not an integer or a string")


def _list_type(validator: Any, list_type: Any, instance: Any, schema: dict) -> Iterator[Any]:
    if not isinstance(instance, list):
        return
    if list_type == "set":
        keys = [json.dumps(item, sort_keys=True) for item in instance]
        label = "items"
    elif list_type == "map":
        names = schema.get("x-kubernetes-list-map-keys", [])
        keys = [
            json.dumps([item.get(n) for n in names]) if isinstance(item, dict) else "" for item in instance
        ]
        label = f"items with the same {', '.join(names)}"
    else:
        return
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        yield jsonschema.ValidationError(f"duplicate {label} ({list_type} list): {', '.join(duplicates)}")


def _cel(validator: Any, rules: Any, instance: Any, schema: dict) -> Iterator[Any]:
    for rule in rules or []:
        text = _rule_text(rule.get("rule", ""))
        if re.search(r"\boldSelf\b", text):
            continue  # a transition rule: only checked on update
        check = KNOWN_RULES.get(text)
        if check is None:
            yield jsonschema.ValidationError(
                f"CEL rule {text!r} is not evaluated by this test; add it to KNOWN_RULES"
            )
            continue
        try:
            holds = check(instance)
        except (TypeError, KeyError, AttributeError):
            continue  # ill-typed fields: the schema errors of those fields say what is wrong
        if not holds:
            yield jsonschema.ValidationError(f"{rule.get('message') or 'CEL rule failed'} (rule: {text})")


CRDValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    {
        "x-kubernetes-int-or-string": _int_or_string,
        "x-kubernetes-list-type": _list_type,
        "x-kubernetes-validations": _cel,
    },
)


@functools.cache
def _object_meta() -> jsonschema.protocols.Validator:
    """ObjectMeta of kubernetes-validate's strict schemas for KUBE_VERSION."""
    schema_dir = f"v{KUBE_VERSION}-local-strict"
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir)
    registry = referencing.Resource.from_contents(definitions) @ referencing.Registry()
    ref = f"{definitions['$id']}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry)


@dataclasses.dataclass(frozen=True)
class CRDVersion:
    """One served version of one CRD: where it came from and its validators."""

    file: str
    raw: dict
    validator: jsonschema.protocols.Validator


def _message(error: jsonschema.ValidationError) -> Iterator[tuple[str, str]]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in known:
                yield yamlfile.dotted((*path, key)), "unknown field"
        return
    yield yamlfile.dotted(tuple(path)) or "(root)", error.message


class CRDs:
    """The CRDs of a folder, by (group, kind), each served version ready to validate."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.versions: dict[tuple[str, str], dict[str, CRDVersion]] = {}
        for file in sorted(folder.glob("*.yaml")):
            with file.open(encoding="utf-8") as stream:
                for doc in yaml.load_all(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
                    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                        self._add(file.name, doc)

    def _add(self, file: str, crd: dict) -> None:
        spec = crd["spec"]
        by_version = self.versions.setdefault((spec["group"], spec["names"]["kind"]), {})
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            raw = version["schema"]["openAPIV3Schema"]
            schema = convert(raw)
            schema.setdefault("properties", {})["metadata"] = {"type": "object"}
            by_version[version["name"]] = CRDVersion(file, raw, CRDValidator(schema))

    def validate(self, obj: dict) -> list[str]:
        """Every problem of one custom resource as ``field: message``; [] when it conforms."""
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        kind = str(obj.get("kind", ""))
        served = self.versions.get((group, kind))
        if served is None:
            return [f"no upstream CRD defines {kind} in group {group!r} (folder {self.folder})"]
        crd = served.get(version)
        if crd is None:
            return [f"{kind}.{group} serves {', '.join(sorted(served))}, not {version!r} ({self.folder})"]
        instance = prune_nulls(obj, crd.raw)
        problems = [
            f"{field}: {message}"
            for error in crd.validator.iter_errors(instance)
            for field, message in _message(error)
        ]
        for error in _object_meta().iter_errors(instance.get("metadata", {})):
            problems.extend(f"metadata.{field}: {message}" for field, message in _message(error))
        return sorted(set(problems))


@pytest.fixture(scope="module")
def crds(crd_dir: Path) -> CRDs:
    """The upstream CRDs, loaded once."""
    return CRDs(crd_dir)


# -- the custom resources slolab renders -----------------------------------------------------


def custom_resources(docs: list[yamlfile.Document]) -> list[yamlfile.Document]:
    """The documents of custom resources, less slolab's own and kind's config (not API objects)."""
    return [
        d
        for d in docs
        if lint.is_custom_resource(d)
        and str(d.data["apiVersion"]).rpartition("/")[0] not in OWN_GROUPS | NOT_RESOURCES
    ]


def check_all(crds: CRDs, docs: list[yamlfile.Document]) -> list[str]:
    """``file: Kind name: field: message`` for every problem of every custom resource in ``docs``."""
    out = []
    for doc in custom_resources(docs):
        name = (doc.data.get("metadata") or {}).get("name")
        out.extend(f"{doc.file}: {doc.data['kind']} {name}: {p}" for p in crds.validate(doc.data))
    return out


CHART_CASES = [(chart, values) for chart in lint.charts() for values in [None, *lint.ci_values(chart)]]


@functools.cache
def rendered(chart: Path, values: Path | None) -> list[yamlfile.Document]:
    with lint.usable_chart(chart) as (chart_dir, _):
        return lint.render(chart_dir, values, display=paths.relative(chart))


@pytest.mark.parametrize(
    ("chart", "values"),
    CHART_CASES,
    ids=[f"{c.name}/{v.name if v else 'defaults'}" for c, v in CHART_CASES],
)
def test_chart_custom_resources_conform(crds: CRDs, chart: Path, values: Path | None) -> None:
    docs = rendered(chart, values)
    problems = check_all(crds, docs)
    assert not problems, "\n".join(problems)


def test_charts_render_every_optional_kind(crds: CRDs) -> None:
    """The ci/ cases between them render each optional custom resource, so the tests above
    validated a ScaledObject, a Rollout, an AnalysisTemplate and a PodMonitor."""
    kinds = {str(d.data["kind"]) for c, v in CHART_CASES for d in custom_resources(rendered(c, v))}
    assert {"ScaledObject", "Rollout", "AnalysisTemplate", "PodMonitor"} <= kinds, kinds


@pytest.mark.parametrize("name", lab_mod.names())
def test_lab_custom_resources_conform(crds: CRDs, name: str, tmp_path: Path) -> None:
    lab = lab_mod.load(name)
    sets = {"fault": variants.fault_files(lab), "solution": variants.solution_files(lab)}
    for fix, files in variants.alternative_files(lab).items():
        sets[f"alternative-{fix}"] = files
    for mutation in lab.mutations:
        sets[f"mutation-{mutation.id}"] = variants.mutation_files(lab, mutation)
    docs: list[yamlfile.Document] = []
    for label, files in sets.items():
        for fname, text in files.items():
            path = tmp_path / f"{label}-{fname}"
            path.write_text(text, encoding="utf-8")
            docs.extend(yamlfile.load_all(path, f"labs/{name} {label}: {fname}"))
    problems = check_all(crds, docs)
    assert not problems, "\n".join(problems)


def test_research_examples_conform(crds: CRDs) -> None:
    """The examples of shared/research (checked there with a strict CRD checker) pass here too."""
    folder = crds.folder.parent / "research" / "examples"
    files = sorted(folder.glob("*.yaml"))
    if not files:
        pytest.skip(f"no research examples at {folder}")
    docs = [doc for file in files for doc in yamlfile.load_all(file, file.name)]
    assert len(custom_resources(docs)) >= 5, "the examples hold KEDA, Argo, monitoring and chaos objects"
    problems = check_all(crds, docs)
    assert not problems, "\n".join(problems)


# -- the check can fail ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def scaled_object() -> dict:
    """The ScaledObject charts/llm-serving renders with ci/07-scaledobject-values.yaml."""
    chart = paths.charts_dir() / "llm-serving"
    docs = rendered(chart, chart / "ci" / "07-scaledobject-values.yaml")
    return next(d.data for d in docs if d.data["kind"] == "ScaledObject")


def test_rendered_scaled_object_conforms(crds: CRDs, scaled_object: dict) -> None:
    assert crds.validate(scaled_object) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda o: o["spec"].update(pollingIntervall=15), "spec.pollingIntervall: unknown field"),
        (lambda o: o["spec"].update(maxReplicaCount="four"), "spec.maxReplicaCount: 'four' is not of type"),
        (lambda o: o["spec"]["triggers"][0].pop("type"), "spec.triggers[0]: 'type' is a required property"),
        (lambda o: o["spec"]["triggers"][0]["metadata"].update(threshold=4), "threshold: 4 is not of type"),
        (lambda o: o["spec"].update(minReplicaCount=9), "minReplicaCount must be less than or equal to"),
        (lambda o: o["spec"]["scaleTargetRef"].update(kind=3), "spec.scaleTargetRef.kind: 3 is not of type"),
        (lambda o: o["metadata"].update(labelz={}), "metadata.labelz: unknown field"),
        (lambda o: o.update(apiVersion="keda.sh/v1beta9"), "serves v1alpha1, not 'v1beta9'"),
    ],
    ids=[
        "unknown-field",
        "wrong-type",
        "missing-required",
        "string-map",
        "cel",
        "nested",
        "metadata",
        "version",
    ],
)
def test_a_wrong_scaled_object_is_caught(
    crds: CRDs, scaled_object: dict, mutate: Callable[[dict], Any], expected: str
) -> None:
    broken = copy.deepcopy(scaled_object)
    mutate(broken)
    problems = crds.validate(broken)
    assert any(expected in p for p in problems), problems


def test_a_wrong_rollout_is_caught(crds: CRDs) -> None:
    chart = paths.charts_dir() / "llm-serving"
    docs = rendered(chart, chart / "ci" / "08-rollout-values.yaml")
    rollout = copy.deepcopy(next(d.data for d in docs if d.data["kind"] == "Rollout"))
    assert crds.validate(rollout) == []
    canary = rollout["spec"]["strategy"]["canary"]
    canary["maxSurge"] = "25%"  # int-or-string: a string is fine
    assert crds.validate(rollout) == []
    canary["maxSurge"] = [1]
    canary["steps"].append({"setWieght": 10})
    rollout["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    problems = crds.validate(rollout)
    assert "spec.strategy.canary.maxSurge: [1] is not an integer or a string" in problems, problems
    assert "spec.strategy.canary.steps[5].setWieght: unknown field" in problems, problems
    assert "spec.template.spec.containers[0].imagePulPolicy: unknown field" in problems, problems


def test_no_crd_for_the_kind(crds: CRDs) -> None:
    problems = crds.validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert problems and "no upstream CRD defines Widget" in problems[0]


# -- the conversion itself, on small schemas (no CRD folder needed) -------------------------


def _validate(schema: dict, instance: Any) -> list[str]:
    validator = CRDValidator(convert(schema))
    return [f"{f}: {m}" for e in validator.iter_errors(prune_nulls(instance, schema)) for f, m in _message(e)]


SMALL = {
    "type": "object",
    "properties": {
        "size": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "note": {"type": "string", "nullable": True},
        "count": {"type": "integer"},
        "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
            },
        },
        "choice": {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        },
        "check": {
            "type": "object",
            "properties": {"x": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.x > 0"}, {"rule": "self.x == oldSelf.x"}],
        },
    },
}


def test_conversion_accepts_what_the_api_server_accepts() -> None:
    good = {
        "size": "50%",
        "free": {"anything": {"goes": [1]}},
        "labels": {"a": "b"},
        "note": None,
        "count": None,  # not nullable: pruned, as the API server does
        "ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}],
        "choice": {"a": "x"},
    }
    assert _validate(SMALL, good) == []
    assert _validate(SMALL, {"size": 3}) == []


def test_conversion_rejects_what_strict_validation_rejects() -> None:
    bad = {
        "size": 1.5,
        "labels": {"a": 1},
        "extra": True,
        "ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81, "hostPort": 1}],
        "choice": {"a": "x", "b": "y"},
        "check": {"x": 1},
    }
    problems = _validate(SMALL, bad)
    assert "size: 1.5 is not an integer or a string" in problems
    assert "labels.a: 1 is not of type 'string'" in problems
    assert "extra: unknown field" in problems
    assert "ports[1].hostPort: unknown field" in problems
    assert any(p.startswith("ports: duplicate items with the same name") for p in problems)
    assert any(p.startswith("choice: ") and "is valid under each of" in p for p in problems)
    # self.x > 0 is not a known rule: named, not silently passed; the oldSelf rule is skipped
    assert (
        problems.count("check: CEL rule 'self.x > 0' is not evaluated by this test; add it to KNOWN_RULES")
        == 1
    )
    assert len(problems) == 7, problems


def test_the_emulator_serves_the_platform_kinds_as_upstream_names_them(crd_dir: Path) -> None:
    """tests/kube_emulator.py's PLATFORM_KINDS (discovery only) agree with the upstream CRDs present:
    same group, a served version, the same plural and scope."""
    from kube_emulator import PLATFORM_KINDS

    upstream: dict[tuple[str, str], dict] = {}
    for file in sorted(crd_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                upstream[(doc["spec"]["group"], doc["spec"]["names"]["kind"])] = doc["spec"]
    checked = 0
    for group, version, kind, plural in PLATFORM_KINDS:
        spec = upstream.get((group, kind))
        if spec is None:
            continue
        checked += 1
        assert spec["names"]["plural"] == plural, kind
        assert spec["scope"] == "Namespaced", kind
        assert version in [v["name"] for v in spec["versions"] if v.get("served", True)], kind
    assert checked >= 5, "fewer upstream CRDs than expected; is the folder complete?"
