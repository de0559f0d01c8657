"""canary-rollout on kind: every workspace of the lab (the fault, the reference solution, each
mutation of lab.yaml, each alternative fix) talks to the platform of charts/slolab-platform.

- The platform installs Argo Rollouts with its CRDs (the Rollout, AnalysisTemplate and
  AnalysisRun kinds the workspaces use; the objects themselves are validated against the upstream
  CRDs by tests/test_crd_conformance.py).
- Each AnalysisTemplate's prometheus provider names the Prometheus Service kube-prometheus-stack
  creates with the platform's values, in a form that resolves from the Argo Rollouts controller's
  pod (a dependency of slolab-platform, so in slolab-system too).
- Each PodMonitor is selected by the platform's Prometheus, selects the Rollout's pods on a port
  they declare, and copies their rollouts-pod-template-hash label (podTargetLabels), which every
  analysis query selects the canary by.
- The images the grader ships (grading.params) are versions of the scenario, of the container it
  names; the Rollout starts on the scenario's running version.
The selector and Prometheus-address rules are test_keda_scaling_platform.py's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import test_keda_scaling_platform as keda_platform
import yaml

from slolab.backends import kube
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.kube import client, observe
from slolab.sim import modelversion, rolloutspec
from slolab.workspace import variants
from slolab_operator import LAB_LABEL, MANAGED_BY, namespace_for

LAB = "canary-rollout"


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


def test_the_platform_runs_argo_rollouts_with_its_crds() -> None:
    values = keda_platform.platform_values()
    assert values["components"]["argoRollouts"]["enabled"]
    assert values["components"]["kubePrometheusStack"]["enabled"]
    assert values["argo-rollouts"]["installCRDs"] is True
    assert "namespace" not in (values["argo-rollouts"] or {})  # installs in the release's namespace


@pytest.mark.parametrize("variant", sorted(WORKSPACES))
def test_analysis_templates_point_at_the_platform_prometheus(variant: str) -> None:
    hosts, port = keda_platform.prometheus_hosts()
    metrics = [
        m
        for o in objects(WORKSPACES[variant])
        if o["kind"] == "AnalysisTemplate"
        for m in o["spec"]["metrics"]
    ]
    if variant == "fault":
        assert not metrics  # nothing judges the fault's canary
        return
    assert metrics, f"{variant}: no AnalysisTemplate metric"
    for metric in metrics:
        url = urlsplit(metric["provider"]["prometheus"]["address"])
        assert url.scheme == "http" and url.path in ("", "/"), url
        assert url.hostname in hosts and (url.port or 80) == port, (
            f"{variant}: {metric['name']} asks {url.geturl()}, not the platform's Prometheus "
            f"({sorted(hosts)} port {port})"
        )


@pytest.mark.parametrize("variant", sorted(WORKSPACES))
def test_pod_monitors_see_the_rollout_s_pods_and_their_hash(variant: str) -> None:
    docs = objects(WORKSPACES[variant])
    monitors = [o for o in docs if o["kind"] == "PodMonitor"]
    [rollout] = [o for o in docs if o["kind"] == "Rollout"]
    assert not [o for o in docs if o["kind"] == "Deployment"], "the Rollout takes the Deployment's place"
    assert monitors, f"{variant}: no PodMonitor, so Prometheus would not scrape the model pods"
    selector, namespace_selector = keda_platform.prometheus_pod_monitor_selectors(
        keda_platform.platform_values()
    )
    namespace = namespace_for(LAB)
    namespace_labels = {LAB_LABEL: LAB, **MANAGED_BY, "kubernetes.io/metadata.name": namespace}
    pod = rollout["spec"]["template"]
    # the controller adds the hash label to every pod it creates (rollouts-pod-template-hash)
    labels = {**pod["metadata"]["labels"], rolloutspec.HASH_LABEL: "h"}
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports") or [] if p.get("name")}
    for monitor in monitors:
        meta, spec = monitor["metadata"], monitor["spec"]
        assert keda_platform._matches(selector, meta.get("labels") or {}), f"{variant}: Prometheus ignores it"
        assert keda_platform._matches(namespace_selector, namespace_labels)
        assert keda_platform._matches(spec["selector"], labels), f"{variant}: selects no model pod"
        assert rolloutspec.HASH_LABEL in spec.get("podTargetLabels", []), f"{variant}: series carry no hash"
        for endpoint in spec["podMetricsEndpoints"]:
            assert endpoint["port"] in ports


def test_the_grader_ships_versions_of_the_scenario() -> None:
    lab = lab_mod.load(LAB)
    scenario = scenario_mod.load(lab.scenario)
    params = lab.grading.params
    [rollout] = [o for o in objects(WORKSPACES["fault"]) if o["kind"] == "Rollout"]
    [container] = [
        c for c in rollout["spec"]["template"]["spec"]["containers"] if c["name"] == params.container
    ]
    running = modelversion.image_tag(container["image"])
    tags = [modelversion.image_tag(i) for i in (params.bad_image, params.good_image)]
    assert scenario.model.versions is not None
    assert running in scenario.model.versions and all(t in scenario.model.versions for t in tags)
    assert (
        scenario.model.versions[tags[0]].error_rate > 0 and scenario.model.versions[tags[1]].error_rate == 0
    )
    assert params.bad_image.rsplit(":", 1)[0] == container["image"].rsplit(":", 1)[0]


def test_every_workspace_was_checked() -> None:
    lab = lab_mod.load(LAB)
    alternatives = variants.alternative_files(lab)
    assert alternatives and len(WORKSPACES) == 2 + len(lab.mutations) + len(alternatives)


def test_set_image_patches_the_rollout_on_an_api_server(emulator) -> None:
    """The grader's ``set image`` on kind: a JSON patch of the named container's image (a Rollout
    is a custom resource: no strategic merge), and a Grader event on the timeline."""
    k = client.connect("emu", timeout_s=5)
    ns = namespace_for(LAB)
    k.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    [rollout] = [o for o in objects(WORKSPACES["fault"]) if o["kind"] == "Rollout"]
    k.create({**rollout, "metadata": {**rollout["metadata"], "namespace": ns}})
    observer = observe.Observer(k, ns, 0.0)
    view = kube.KubeClusterView(k, ns, _Clock(), observer)
    params = lab_mod.load(LAB).grading.params
    view.set_image("Rollout", "llm", params.container, params.bad_image)
    containers = k.get("Rollout", "llm", ns)["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers if c["name"] == params.container] == [params.bad_image]
    [event] = [e for e in observer.recorder.events if e.kind == "Grader"]
    assert event.reason == "SetImage" and params.bad_image in event.message


class _Clock:
    def now_s(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass
