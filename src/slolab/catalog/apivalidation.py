"""What the API server and kubectl refuse that the OpenAPI schema lets through.

The strict schema check (catalog.k8svalidate) knows types and field names, not ranges or the
namespace a command runs in. These checks give the same refusals, in the same words, with the
file and line the schema check gives:

- port numbers. Upstream: kubernetes v1.36 pkg/apis/core/validation/validation.go
  (validateContainerPorts, validateServicePort, ValidatePortNumOrName for probe handlers),
  whose message comes from k8s.io/apimachinery pkg/util/validation (IsValidPortNum,
  InclusiveRangeError), as ``<field>: Invalid value: <value>: <why>``::

      spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000:
          must be between 1 and 65535, inclusive   (one line in the message)

  containerPort 0 is "Required value"; hostPort, a Service's targetPort and nodePort 0 mean
  "unset" (targetPort 0 defaults to port, nodePort 0 is allocated). A nodePort outside the
  API server's --service-node-port-range (default 30000-32767, which kind keeps) is refused by
  its allocator (pkg/registry/core/service/portallocator) in its own words.
- the namespace. Upstream: kubernetes v1.36 staging/src/k8s.io/cli-runtime/pkg/resource/
  visitor.go (RequireNamespace): ``kubectl apply -n NS`` refuses a namespaced object whose
  metadata.namespace names another namespace; an object without one goes into NS.

Not checked here: named ports (IsValidPortName), duplicate ports, the protocol, ports of
lifecycle hooks, and every other rule of validation.go; the API server applies them on kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from slolab import errors
from slolab.catalog import yamlfile

Path_ = tuple[str | int, ...]

MIN_PORT = 1
MAX_PORT = 65535
#: the API server's default --service-node-port-range (kube-apiserver v1.36)
NODE_PORT_RANGE = (30000, 32767)

#: where each workload kind keeps its pod spec
POD_SPEC_PATHS: dict[str, Path_] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

#: kinds of the core API groups that live outside namespaces (kubectl api-resources
#: --namespaced=false, v1.36); every other kind is namespaced, custom resources included
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "CustomResourceDefinition",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "CertificateSigningRequest",
        "ComponentStatus",
        "DeviceClass",
        "ResourceSlice",
    }
)

_RANGE = f"must be between {MIN_PORT} and {MAX_PORT}, inclusive"


def _is_port_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _get(data: Any, path: Path_) -> Any:
    """The value at ``path``, or None where the path does not exist (or has the wrong shape)."""
    for part in path:
        if isinstance(part, int) and isinstance(data, list) and part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def _items(data: Any, path: Path_) -> Iterator[tuple[Path_, Any]]:
    """(path, item) for each item of the list at ``path`` (nothing when it is not a list)."""
    found = _get(data, path)
    if isinstance(found, list):
        for i, item in enumerate(found):
            yield (*path, i), item


def _invalid(path: Path_, value: int, message: str) -> tuple[Path_, str]:
    return path, f"Invalid value: {value}: {message}"


def _container_ports(data: Any, pod_spec: Path_) -> Iterator[tuple[Path_, str]]:
    for list_name in ("initContainers", "containers"):
        for container_path, container in _items(data, (*pod_spec, list_name)):
            for port_path, port in _items(container, ("ports",)):
                if not isinstance(port, dict):
                    continue
                at = (*container_path, *port_path)
                container_port = port.get("containerPort")
                if container_port == 0 and _is_port_number(container_port):
                    yield (*at, "containerPort"), "Required value"
                elif _is_port_number(container_port) and not MIN_PORT <= container_port <= MAX_PORT:
                    yield _invalid((*at, "containerPort"), container_port, _RANGE)
                host_port = port.get("hostPort")
                if _is_port_number(host_port) and host_port != 0 and not MIN_PORT <= host_port <= MAX_PORT:
                    yield _invalid((*at, "hostPort"), host_port, _RANGE)
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                for handler in ("httpGet", "tcpSocket"):
                    value = _get(container, (probe, handler, "port"))
                    if _is_port_number(value) and not MIN_PORT <= value <= MAX_PORT:
                        yield _invalid((*container_path, probe, handler, "port"), value, _RANGE)


def _service_ports(data: Any) -> Iterator[tuple[Path_, str]]:
    low, high = NODE_PORT_RANGE
    for at, port in _items(data, ("spec", "ports")):
        if not isinstance(port, dict):
            continue
        number = port.get("port")
        if _is_port_number(number) and not MIN_PORT <= number <= MAX_PORT:
            yield _invalid((*at, "port"), number, _RANGE)
        target = port.get("targetPort")
        if _is_port_number(target) and target != 0 and not MIN_PORT <= target <= MAX_PORT:
            yield _invalid((*at, "targetPort"), target, _RANGE)
        node_port = port.get("nodePort")
        if _is_port_number(node_port) and node_port != 0 and not low <= node_port <= high:
            yield _invalid(
                (*at, "nodePort"),
                node_port,
                f"provided port is not in the valid range. The range of valid ports is {low}-{high}",
            )


def port_problems(doc: yamlfile.Document) -> list[errors.Problem]:
    """Port numbers of a Pod, a workload's pod template or a Service that the API server refuses."""
    data = doc.data
    if not isinstance(data, dict):
        return []
    kind = data.get("kind")
    found: Iterable[tuple[Path_, str]]
    if kind == "Service":
        found = _service_ports(data)
    elif isinstance(kind, str) and kind in POD_SPEC_PATHS:
        found = _container_ports(data, POD_SPEC_PATHS[kind])
    else:
        return []
    return [
        errors.Problem(doc.file, message, field=yamlfile.dotted(path), line=doc.line_of(path))
        for path, message in found
    ]


def namespace_problems(docs: Iterable[yamlfile.Document], namespace: str) -> list[errors.Problem]:
    """Objects that ``kubectl apply --namespace=NAMESPACE`` refuses: they name another namespace."""
    problems = []
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict) or data.get("kind") in CLUSTER_SCOPED:
            continue
        own = (data.get("metadata") or {}).get("namespace")
        if own and own != namespace:
            problems.append(
                errors.Problem(
                    doc.file,
                    f'the namespace from the provided object "{own}" does not match the namespace '
                    f"\"{namespace}\". You must pass '--namespace={own}' to perform this operation.",
                    field="metadata.namespace",
                    line=doc.line_of(("metadata", "namespace")),
                )
            )
    return problems
