"""keda-scaling on kind: every workspace of the lab (the fault, the reference solution, each
mutation of lab.yaml, each alternative fix) talks to the platform of charts/slolab-platform.

- Each ScaledObject's prometheus trigger names the Prometheus Service that kube-prometheus-stack
  creates with the platform's values (``<fullnameOverride>-prometheus`` in slolab-system, port
  ``prometheus.service.port`` or 9090), in a form that resolves from KEDA's operator pod: the
  keda chart is a dependency of slolab-platform, so KEDA runs in slolab-system too.
- Each PodMonitor is selected by the Prometheus that kube-prometheus-stack renders with the
  platform's values, and selects the model server's pods on a port they declare. The selector
  follows kube-prometheus-stack's templates/prometheus/prometheus.yaml as components.md §8 notes
  it: ``podMonitorSelector`` when set, else ``release: <release>`` while
  ``podMonitorSelectorNilUsesHelmValues`` is true (the default), else everything; the namespace
  selector is ``podMonitorNamespaceSelector`` (chart default ``{}``: every namespace).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from slolab import paths
from slolab.catalog import lab as lab_mod
from slolab.workspace import variants
from slolab_operator import LAB_LABEL, MANAGED_BY, namespace_for

PLATFORM = paths.charts_dir() / "slolab-platform"
PLATFORM_RELEASE, PLATFORM_NAMESPACE = "slolab-platform", "slolab-system"  # clusterup.py
LAB = "keda-scaling"
if LAB not in lab_mod.names():  # until branch kedalab is merged
    pytest.skip(f"labs/{LAB} is not in this checkout", allow_module_level=True)


def platform_values() -> dict[str, Any]:
    return yaml.safe_load((PLATFORM / "values.yaml").read_text(encoding="utf-8"))


def workspaces() -> dict[str, dict[str, str]]:
    """{variant: {file: YAML text}} of every workspace the lab defines."""
    lab = lab_mod.load(LAB)
    out = {"fault": variants.fault_files(lab), "solution": variants.solution_files(lab)}
    for mutation in lab.mutations:
        out[f"mutation {mutation.id}"] = variants.mutation_files(lab, mutation)
    out.update({f"alternative {fix}": files for fix, files in variants.alternative_files(lab).items()})
    return out


def objects(files: dict[str, str]) -> list[dict[str, Any]]:
    return [d for text in files.values() for d in yaml.safe_load_all(text) if d]


WORKSPACES = workspaces()


def prometheus_hosts() -> tuple[set[str], int]:
    """The names the platform's Prometheus Service answers to from slolab-system, and its port."""
    kps = platform_values()["kube-prometheus-stack"]
    service = f"{kps['fullnameOverride'][:26].rstrip('-')}-prometheus"
    port = int((kps.get("prometheus") or {}).get("service", {}).get("port", 9090))
    ns = PLATFORM_NAMESPACE
    return {service, f"{service}.{ns}", f"{service}.{ns}.svc", f"{service}.{ns}.svc.cluster.local"}, port


def test_the_platform_runs_keda_and_prometheus_in_one_namespace() -> None:
    """What lets a short Service name resolve from KEDA's pod: both are in the platform's release."""
    components = platform_values()["components"]
    assert components["keda"]["enabled"] and components["kubePrometheusStack"]["enabled"]
    assert "namespace" not in (platform_values()["keda"] or {})  # keda installs in the release's namespace


@pytest.mark.parametrize("variant", sorted(WORKSPACES))
def test_scaled_objects_point_at_the_platform_prometheus(variant: str) -> None:
    hosts, port = prometheus_hosts()
    triggers = [
        t
        for o in objects(WORKSPACES[variant])
        if o["kind"] == "ScaledObject"
        for t in o["spec"]["triggers"]
        if t["type"] == "prometheus"
    ]
    if variant == "fault":
        assert not triggers  # the fault is a CPU HPA
        return
    assert triggers, f"{variant}: no prometheus trigger"
    for trigger in triggers:
        url = urlsplit(trigger["metadata"]["serverAddress"])
        assert url.scheme == "http", url
        assert url.hostname in hosts and (url.port or 80) == port, (
            f"{variant}: serverAddress {url.geturl()} is not the platform's Prometheus "
            f"({sorted(hosts)} port {port})"
        )
        assert url.path in ("", "/")


def _matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics: None selects nothing, {} everything."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def prometheus_pod_monitor_selectors(values: dict[str, Any]) -> tuple[dict | None, dict | None]:
    """(podMonitorSelector, podMonitorNamespaceSelector) of the Prometheus kps renders."""
    spec = ((values.get("kube-prometheus-stack") or {}).get("prometheus") or {}).get("prometheusSpec") or {}
    if spec.get("podMonitorSelector"):
        selector = spec["podMonitorSelector"]
    elif spec.get("podMonitorSelectorNilUsesHelmValues", True):
        selector = {"matchLabels": {"release": PLATFORM_RELEASE}}
    else:
        selector = {}
    return selector, spec.get("podMonitorNamespaceSelector", {})


def test_the_selector_model_sees_the_upstream_default() -> None:
    """Without slolab's value a lab's PodMonitor would be ignored: the check below can fail."""
    values = platform_values()
    del values["kube-prometheus-stack"]["prometheus"]["prometheusSpec"]["podMonitorSelectorNilUsesHelmValues"]
    selector, _ = prometheus_pod_monitor_selectors(values)
    assert not _matches(selector, {"app.kubernetes.io/name": "llm-serving"})


@pytest.mark.parametrize("variant", sorted(WORKSPACES))
def test_pod_monitors_are_selected_and_select_the_model_pods(variant: str) -> None:
    docs = objects(WORKSPACES[variant])
    monitors = [o for o in docs if o["kind"] == "PodMonitor"]
    [deployment] = [o for o in docs if o["kind"] == "Deployment"]
    assert monitors, f"{variant}: no PodMonitor, so Prometheus would not scrape the model pods"
    selector, namespace_selector = prometheus_pod_monitor_selectors(platform_values())
    namespace = namespace_for(LAB)
    namespace_labels = {LAB_LABEL: LAB, **MANAGED_BY, "kubernetes.io/metadata.name": namespace}
    pod = deployment["spec"]["template"]
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports") or [] if p.get("name")}
    for monitor in monitors:
        meta = monitor["metadata"]
        assert meta.get("namespace", namespace) == namespace
        assert _matches(selector, meta.get("labels") or {}), f"{variant}: Prometheus ignores {meta['name']}"
        assert _matches(namespace_selector, namespace_labels), f"{variant}: namespace {namespace} not watched"
        spec = monitor["spec"]
        assert _matches(spec["selector"], pod["metadata"]["labels"]), f"{variant}: selects no model pod"
        for endpoint in spec["podMetricsEndpoints"]:
            assert endpoint["port"] in ports, f"{variant}: port {endpoint['port']!r} not in {sorted(ports)}"
            assert endpoint.get("path", "/metrics") == "/metrics"


def test_every_workspace_was_checked() -> None:
    lab = lab_mod.load(LAB)
    assert len(WORKSPACES) == 2 + len(lab.mutations) + len(variants.alternative_files(lab))
    assert Path(lab.directory / "solution" / "scaledobject.yaml").is_file()
