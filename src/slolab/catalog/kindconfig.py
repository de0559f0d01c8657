"""kind-config.yaml → the nodes a kind cluster would have: names, roles, labels, taints.

Upstream: kind v0.32 pkg/apis/config/v1alpha4/types.go (Cluster, Node, role, labels,
kubeadmConfigPatches) and kubeadm's nodeRegistration (taints, kubeletExtraArgs
register-with-taints, as a map in kubeadm v1beta3 and a name/value list in v1beta4).
Node names follow kind: ``<cluster>-control-plane``, ``<cluster>-worker``, ``<cluster>-worker2``…
Control-plane nodes carry kubeadm's ``node-role.kubernetes.io/control-plane:NoSchedule`` taint.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from slolab import errors, paths
from slolab.catalog import yamlfile

#: The node image kind-config.yaml pins on every node: kind v0.32.0's own default
#: (pkg/apis/config/defaults/image.go at v0.32.0; research/components.md §7), by digest, so a
#: newer kind cannot silently change the Kubernetes version under the labs.
NODE_IMAGE = "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"
#: The Kubernetes version of that image, for which every manifest is validated (strict schemas of
#: kubernetes-validate) and which the README names; tests/kube/test_kind_path.py keeps them in step.
KUBERNETES_VERSION = "1.36.0"

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    """One node as kind would register it."""

    name: str
    role: str
    labels: dict[str, str]
    taints: tuple[dict[str, str], ...]


def _parse_taint(text: str) -> dict[str, str]:
    # key=value:Effect or key:Effect
    key_value, _, effect = text.strip().rpartition(":")
    key, _, value = key_value.partition("=")
    if not key or effect not in {"NoSchedule", "PreferNoSchedule", "NoExecute"}:
        raise ValueError(f"taint {text!r} is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def _taints_from_patch(patch: Any) -> list[dict[str, str]]:
    doc = yaml.safe_load(patch) if isinstance(patch, str) else patch
    if not isinstance(doc, dict):
        return []
    registration = doc.get("nodeRegistration") or {}
    out: list[dict[str, str]] = []
    for taint in registration.get("taints") or []:
        out.append({k: str(v) for k, v in taint.items() if k in {"key", "value", "effect"}})
    extra = registration.get("kubeletExtraArgs") or {}
    if isinstance(extra, list):  # kubeadm v1beta4: [{name, value}]
        extra = {item.get("name"): item.get("value") for item in extra if isinstance(item, dict)}
    for text in str(extra.get("register-with-taints") or "").split(","):
        if text.strip():
            out.append(_parse_taint(text))
    return out


def load(file: Path | None = None) -> tuple[str, list[NodeSpec]]:
    """The cluster name and its nodes, in the order kind creates them."""
    file = file or paths.kind_config()
    display = paths.relative(file)
    doc = yamlfile.load_one(file, display)
    data = doc.data
    problems: list[errors.Problem] = []
    if data.get("kind") != "Cluster" or data.get("apiVersion") != "kind.x-k8s.io/v1alpha4":
        problems.append(
            errors.Problem(
                display,
                "expected kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4",
                field="kind",
                line=doc.line_of(("kind",)),
            )
        )
    cluster = str(data.get("name") or "kind")
    raw_nodes = data.get("nodes") or [{"role": "control-plane"}]
    nodes: list[NodeSpec] = []
    counts = {"control-plane": 0, "worker": 0}
    for i, node in enumerate(raw_nodes):
        role = node.get("role", "control-plane")
        if role not in counts:
            problems.append(
                errors.Problem(
                    display,
                    f"role must be control-plane or worker (got {role!r})",
                    field=f"nodes[{i}].role",
                    line=doc.line_of(("nodes", i, "role")),
                )
            )
            continue
        counts[role] += 1
        suffix = "" if counts[role] == 1 else str(counts[role])
        name = f"{cluster}-{role}{suffix}"
        labels = {str(k): str(v) for k, v in (node.get("labels") or {}).items()}
        labels.update(
            {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
        )
        taints: list[dict[str, str]] = []
        if role == "control-plane":
            labels["node-role.kubernetes.io/control-plane"] = ""
            taints.append(dict(CONTROL_PLANE_TAINT))
        for j, patch in enumerate(node.get("kubeadmConfigPatches") or []):
            try:
                taints.extend(_taints_from_patch(patch))
            except (ValueError, yaml.YAMLError) as exc:
                problems.append(
                    errors.Problem(
                        display,
                        str(exc),
                        field=f"nodes[{i}].kubeadmConfigPatches[{j}]",
                        line=doc.line_of(("nodes", i, "kubeadmConfigPatches", j)),
                    )
                )
        nodes.append(NodeSpec(name=name, role=role, labels=labels, taints=tuple(taints)))
    if problems:
        raise errors.CatalogError(problems)
    return cluster, nodes


def published_node_ports(file: Path | None = None) -> dict[int, int]:
    """containerPort → hostPort of the extraPortMappings kind publishes on this machine's loopback
    (or on every address): the node ports graders on the laptop can reach."""
    file = file or paths.kind_config()
    data = yamlfile.load_one(file, paths.relative(file)).data or {}
    out: dict[int, int] = {}
    for node in data.get("nodes") or []:
        for m in node.get("extraPortMappings") or []:
            if m.get("listenAddress", "0.0.0.0") in ("127.0.0.1", "0.0.0.0", "localhost"):
                out[int(m["containerPort"])] = int(m.get("hostPort", m["containerPort"]))
    return out
