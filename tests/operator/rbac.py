"""Check recorded API requests against RBAC rules, the way the API server's RBAC authorizer does.

Requests are mapped to (verb, apiGroup, resource[/subresource], namespace, name) following
https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb;
a rule allows a request when its apiGroups, resources, verbs (and resourceNames, when present)
all match. Non-resource URLs (discovery, /version, /openapi) are left out: the built-in
system:discovery role allows them to every authenticated user.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from slolab import paths


@dataclasses.dataclass(frozen=True)
class Access:
    verb: str
    group: str
    resource: str
    namespace: str | None
    name: str | None

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else " (cluster)"
        return (
            f"{self.verb} {self.group or 'core'}/{self.resource}{'/' + self.name if self.name else ''}{where}"
        )


def access(method: str, path: str, params: Mapping[str, str]) -> Access | None:
    """What one HTTP request asks for; None for non-resource URLs."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    if resource == "namespaces":
        namespace = None  # a namespace is cluster-scoped
    method = method.upper()
    if method == "GET":
        verb = "watch" if params.get("watch") in ("true", "1") else ("get" if name else "list")
    else:
        verb = {
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }[method]
    return Access(verb, group, resource, namespace, name)


def allows(rules: Iterable[Mapping[str, Any]], request: Access) -> bool:
    for rule in rules:
        if request.group not in rule.get("apiGroups", []):
            continue
        if request.resource not in rule.get("resources", []):
            continue
        if request.verb not in rule.get("verbs", []):
            continue
        names = rule.get("resourceNames")
        if names and request.name not in names:
            continue
        return True
    return False


def asked(requests: Iterable[Any]) -> list[Access]:
    """The API accesses of the emulator's ``requests`` (those the authorizer would check)."""
    return [a for r in requests if (a := access(r.method, r.path, r.params)) is not None]


def refused(rules: Iterable[Mapping[str, Any]], accesses: Iterable[Access], namespace: str) -> list[str]:
    """The accesses a Role with ``rules`` bound in ``namespace`` would refuse, sorted."""
    rules = list(rules)
    return sorted({str(a) for a in accesses if a.namespace != namespace or not allows(rules, a)})


def chart_rules(helm: Path, *set_values: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The rules of every Role and ClusterRole charts/slolab-operator renders (``helm template``
    in slolab-system, with ``--set`` for each of ``set_values``), by (kind, name)."""
    argv = [str(helm), "template", "slolab-operator", str(paths.charts_dir() / "slolab-operator")]
    argv += ["-n", "slolab-system", *(arg for value in set_values for arg in ("--set", value))]
    proc = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return {
        (d["kind"], d["metadata"]["name"]): d.get("rules") or []
        for d in yaml.safe_load_all(proc.stdout)
        if d and d.get("kind") in ("Role", "ClusterRole")
    }
