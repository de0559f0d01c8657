"""The HPA controller on the simulated cluster: sync loop, metrics, scaling, status and events."""

from __future__ import annotations

from hpa_support import (
    FakeExternal,
    condition,
    cpu,
    external,
    hpa_doc,
    hpa_events,
    replicas,
    rescales,
    status,
    unavailable,
)
from sim_support import NS, SOUND, manifest, start

from slolab.run import request
from slolab.sim import kubestate, metricsapi, store

CPU_1 = {"limits": {"nvidia.com/gpu": 1}, "requests": {"cpu": "1"}}


def _busy(sim, from_s: float, until_s: float, every_s: float = 1.0) -> None:
    """Keep the model servers busy: a long request every ``every_s`` from ``from_s``."""

    def gen():
        yield sim.env.timeout(from_s - sim.env.now)
        i = 0
        while sim.env.now < until_s:
            sim.send("llm", request.Request(i, sim.env.now, 400, 400))
            i += 1
            yield sim.env.timeout(every_s)

    sim.env.process(gen())


def test_cpu_utilisation_of_a_busy_model_server_scales_it_up():
    sim = start([*manifest(replicas=1, probes=SOUND, resources=CPU_1), hpa_doc([cpu(50)])])
    _busy(sim, 130, 400)
    sim.env.run(until=400)
    # one core for the engine's busy loop plus the baseline: 105 % of a 1-core request, so
    # ceil(1 × 105/50) = 3, within max(2 × 1, 4)
    (first, *_) = rescales(sim)
    assert first[1] == "New size: 3; reason: cpu resource utilization (percentage of request) above target"
    assert 130 < first[0] <= 190
    assert replicas(sim) >= 3
    metric = next(m for m in status(sim)["currentMetrics"] if m["type"] == "Resource")
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["current"]["averageUtilization"] > 50


def test_an_idle_model_server_stays_at_min_replicas_with_a_valid_metric():
    sim = start([*manifest(replicas=1, probes=SOUND, resources=CPU_1), hpa_doc([cpu(50)])])
    sim.env.run(until=400)
    assert rescales(sim) == [] and replicas(sim) == 1
    assert condition(sim, "ScalingActive")["reason"] == "ValidMetricFound"
    (metric,) = status(sim)["currentMetrics"]
    assert metric["resource"]["current"] == {"averageUtilization": 5, "averageValue": "50m"}


def test_the_first_sync_is_one_period_after_creation_then_every_period():
    sim = start([*manifest(replicas=1), hpa_doc([external("q", average_value="10")])])
    fake = sim.metrics.external = FakeExternal(q=5)
    sim.env.run(until=61)
    assert len(fake.calls) == 4, "synced at 15, 30, 45, 60"
    assert fake.calls[0] == ("q", NS, None)


def test_no_change_within_the_tolerance_then_a_change_beyond_it():
    sim = start([*manifest(replicas=2), hpa_doc([external("q", average_value="10")])])
    fake = sim.metrics.external = FakeExternal(q=21)  # 21 / (10 × 2) = 1.05: within 10 %
    sim.env.run(until=100)
    assert rescales(sim) == [] and status(sim)["desiredReplicas"] == 2
    assert status(sim)["currentMetrics"][0]["external"]["current"] == {"averageValue": "10500m"}
    fake.values["q"] = 23  # 1.15: beyond
    sim.env.run(until=121)
    assert rescales(sim)[0][1] == "New size: 3; reason: external metric q(nil) above target"


def test_external_average_value_is_total_over_target_bounded_by_max_replicas():
    sim = start([*manifest(replicas=1), hpa_doc([external("q", average_value="10")], maxReplicas=4)])
    sim.metrics.external = FakeExternal(q=[30, 70])  # two series: summed
    sim.env.run(until=16)
    assert rescales(sim) == [(15, "New size: 4; reason: external metric q(nil) above target")]
    limited = condition(sim, "ScalingLimited")
    assert (limited["status"], limited["reason"]) == ("True", "TooManyReplicas")
    assert limited["message"] == "the desired replica count is more than the maximum replica count"


def test_external_value_target_multiplies_the_ready_pods():
    sim = start([*manifest(replicas=2, probes=SOUND), hpa_doc([external("q", value="10")], maxReplicas=8)])
    sim.metrics.external = FakeExternal(q=15)
    sim.env.run(until=16)  # no pod Ready yet: ceil(1.5 × 0) = 0, held at 2 by the 5 min window
    assert rescales(sim) == [] and condition(sim, "AbleToScale")["reason"] == "ScaleDownStabilized"
    sim.env.run(until=200)  # both Ready: ceil(1.5 × 2) = 3
    assert [m for _, m in rescales(sim)] == ["New size: 3; reason: external metric q(nil) above target"]
    assert status(sim)["currentMetrics"][0]["external"]["current"] == {"value": "15"}


def test_the_largest_proposal_across_metrics_wins():
    metrics = [external("a", average_value="10"), external("b", average_value="10")]
    sim = start([*manifest(replicas=1), hpa_doc(metrics, maxReplicas=8)])
    sim.metrics.external = FakeExternal(a=20, b=30)
    sim.env.run(until=16)
    assert rescales(sim) == [(15, "New size: 3; reason: external metric b(nil) above target")]
    assert [m["external"]["metric"]["name"] for m in status(sim)["currentMetrics"]] == ["a", "b"]
    assert condition(sim, "ScalingActive")["message"] == (
        "the HPA was able to successfully calculate a replica count from external metric b(nil)"
    )


def test_an_invalid_metric_blocks_a_scale_down_but_not_a_scale_up():
    metrics = [external("a", average_value="10"), external("b", average_value="10")]
    sim = start([*manifest(replicas=2), hpa_doc(metrics, maxReplicas=8)])
    fake = sim.metrics.external = FakeExternal(a=10, b=unavailable("connection refused"))
    sim.env.run(until=16)  # a alone says 1 < 2: upstream refuses to scale down on partial metrics
    assert rescales(sim) == []
    active = condition(sim, "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetExternalMetric")
    (failed,) = hpa_events(sim, "FailedComputeMetricsReplicas")
    assert failed.message == (
        "invalid metrics (1 invalid out of 2), first error is: failed to get b external metric value: "
        f"failed to get b external metric: unable to get external metric {NS}/b/nil: "
        "unable to fetch metrics from external metrics API: connection refused"
    )
    assert status(sim)["currentMetrics"][1] == {"type": ""}, "the failed metric's entry stays empty"
    fake.values["a"] = 30
    sim.env.run(until=31)
    assert rescales(sim) == [(30, "New size: 3; reason: external metric a(nil) above target")]
    assert condition(sim, "ScalingActive")["reason"] == "ValidMetricFound"
    assert status(sim)["currentMetrics"][1] == {"type": ""}


def test_without_an_external_metrics_api_the_hpa_reports_what_the_api_server_says():
    sim = start([*manifest(replicas=1), hpa_doc([external("q", average_value="10")])])
    sim.metrics.external = None  # a cluster without KEDA's metrics adapter (the sim always has one)
    sim.env.run(until=16)
    expected = (
        f"unable to get external metric {NS}/q/nil: unable to fetch metrics from external metrics API: "
        "the server could not find the requested resource (get q.external.metrics.k8s.io)"
    )
    (event,) = hpa_events(sim, "FailedGetExternalMetric")
    assert event.message == expected and event.type == "Warning"
    active = condition(sim, "ScalingActive")
    assert active["message"] == f"the HPA was unable to compute the replica count: {expected}"
    assert status(sim)["currentReplicas"] == 1 and status(sim)["desiredReplicas"] == 0


def test_a_missing_cpu_request_makes_scaling_inactive_with_upstreams_reason():
    sim = start([*manifest(replicas=1, probes=SOUND), hpa_doc([cpu(50)])])
    sim.env.run(until=300)
    active = condition(sim, "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    (pod,) = sim.pods
    assert active["message"] == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        f"missing request for cpu in container server of Pod {pod}"
    )
    last = hpa_events(sim, "FailedComputeMetricsReplicas")[-1]
    assert last.message == (
        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: "
        f"failed to get cpu utilization: missing request for cpu in container server of Pod {pod}"
    )


def test_a_target_scaled_to_zero_disables_scaling():
    sim = start([*manifest(replicas=0), hpa_doc([external("q", average_value="1")])])
    sim.metrics.external = FakeExternal(q=100)
    sim.env.run(until=31)
    assert rescales(sim) == [] and replicas(sim) == 0
    active = condition(sim, "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "ScalingDisabled")
    assert active["message"] == "scaling is disabled since the replica count of the target is zero"


def test_replicas_outside_min_and_max_are_brought_back_first():
    sim = start([*manifest(replicas=1), hpa_doc([external("q", average_value="10")], minReplicas=2)])
    sim.metrics.external = FakeExternal(q=0)
    sim.env.run(until=16)
    assert rescales(sim) == [(15, "New size: 2; reason: Current number of replicas below Spec.MinReplicas")]
    sim.scale("apps/v1", "Deployment", "llm", 7)
    sim.env.run(until=31)
    assert rescales(sim)[-1] == (30, "New size: 4; reason: Current number of replicas above Spec.MaxReplicas")
    assert status(sim)["lastScaleTime"] == "2026-01-01T00:00:30Z"


def test_a_missing_scale_target_is_failed_get_scale():
    doc = hpa_doc([external("q", average_value="10")])
    doc.data["spec"]["scaleTargetRef"]["name"] = "nope"
    sim = start([*manifest(replicas=1), doc])
    sim.env.run(until=16)
    (event,) = hpa_events(sim, "FailedGetScale")
    assert event.message == 'deployments.apps "nope" not found'
    able = condition(sim, "AbleToScale")
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")


def test_the_api_view_shows_the_defaulted_spec_and_kube_state_metrics_reads_it():
    sim = start(
        [*manifest(replicas=1), hpa_doc(None, behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})]
    )
    sim.metrics.external = FakeExternal()
    sim.env.run(until=16)
    (hpa,) = sim.api_objects("HorizontalPodAutoscaler")
    spec = hpa["spec"]
    assert spec["metrics"] == [cpu(80)], "no metrics: CPU at 80 % (SetDefaults_HorizontalPodAutoscaler)"
    assert spec["behavior"]["scaleUp"]["policies"] == [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ]
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60
    samples = {(n, frozenset(lbl.items())): v for n, lbl, v in kubestate.samples([hpa])}
    base = {"horizontalpodautoscaler": "llm", "namespace": NS}
    assert samples[("kube_horizontalpodautoscaler_status_current_replicas", frozenset(base.items()))] == 1
    assert samples[("kube_horizontalpodautoscaler_status_desired_replicas", frozenset(base.items()))] == 0
    able = frozenset({**base, "condition": "ScalingActive", "status": "false"}.items())
    assert samples[("kube_horizontalpodautoscaler_status_condition", able)] == 1


def test_prometheus_scrapes_the_hpa_status_through_kube_state_metrics():
    sim = start([*manifest(replicas=1), hpa_doc([external("q", average_value="10")], maxReplicas=8)])
    sim.metrics.external = FakeExternal(q=30)
    sim.env.run(until=60)
    (result,) = sim.prom_query(f'kube_horizontalpodautoscaler_status_desired_replicas{{namespace="{NS}"}}')
    assert float(result["value"][1]) == 3


def test_without_metrics_server_a_cpu_metric_fails_as_on_a_cluster_without_it():
    sim = start([*manifest(replicas=1, probes=SOUND, resources=CPU_1), hpa_doc([cpu(50)])])
    sim.metrics.resource = None
    sim.env.run(until=16)
    (event,) = hpa_events(sim, "FailedGetResourceMetric")
    assert event.message == (
        "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
        "resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"
    )


def test_an_hpa_another_controller_creates_in_the_store_is_defaulted_and_synced():
    sim = start(manifest(replicas=1))
    sim.metrics.external = FakeExternal(q=30)
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
        "maxReplicas": 5,
        "metrics": [external("q", average_value="10")],
    }
    sim.store.create(
        store.Generic("autoscaling/v2", "HorizontalPodAutoscaler", store.Meta("keda-hpa-llm", NS), spec)
    )
    sim.env.run(until=16)
    assert rescales(sim) == [(15, "New size: 3; reason: external metric q(nil) above target")]
    assert status(sim, "keda-hpa-llm")["desiredReplicas"] == 3


def test_kube_state_metrics_exports_the_target_metrics_of_spec_and_status():
    metrics = [cpu(50), external("q", average_value="500m"), external("v", value="2")]
    sim = start([*manifest(replicas=1), hpa_doc(metrics, maxReplicas=8)])
    sim.metrics.external = FakeExternal(q=1.5, v=1)
    sim.env.run(until=16)
    (hpa,) = sim.api_objects("HorizontalPodAutoscaler")
    got = {
        (n.removeprefix("kube_horizontalpodautoscaler_"), lbl["metric_name"], lbl["metric_target_type"]): v
        for n, lbl, v in kubestate.samples([hpa])
        if n.endswith("target_metric")
    }
    assert got == {
        ("spec_target_metric", "cpu", "utilization"): 50.0,
        ("spec_target_metric", "q", "average"): 0.5,
        ("spec_target_metric", "v", "value"): 2.0,
        # cpu has no metric yet (the pod is not running): its status entry is empty and skipped
        ("status_target_metric", "q", "average"): 1.5,
        ("status_target_metric", "v", "value"): 1.0,
    }


def test_two_hpas_on_the_same_pods_both_stop_with_an_ambiguous_selector():
    metric = [external("q", average_value="10")]
    sim = start([*manifest(replicas=1), hpa_doc(metric, name="llm"), hpa_doc(metric, name="other")])
    sim.metrics.external = FakeExternal(q=30)
    sim.env.run(until=31)
    # at 15 the first one synced before the second had a selector, so it still scaled once
    assert rescales(sim) == [(15, "New size: 3; reason: external metric q(nil) above target")]
    message = f"pods by selector app=llm are controlled by multiple HPAs: [{NS}/llm {NS}/other]"
    for name in ("llm", "other"):
        active = condition(sim, "ScalingActive", name)
        assert (active["status"], active["reason"], active["message"]) == (
            "False",
            "AmbiguousSelector",
            message,
        )
    assert {e.name for e in hpa_events(sim, "AmbiguousSelector")} == {"llm", "other"}


class FakeCustom:
    """custom.metrics.k8s.io with a value per pod (Pods metrics) and per object (Object metrics)."""

    def __init__(self, per_pod: float, per_object: float) -> None:
        self.per_pod, self.per_object = per_pod, per_object

    def pods(self, metric_name, namespace, selector, metric_selector):
        return {p.name: metricsapi.PodMetric(self.per_pod, 0.0, 60.0) for p in self._pods}

    def object(self, metric_name, namespace, object_ref, metric_selector):
        return self.per_object, 0.0


def test_a_pods_metric_averages_over_the_pods_with_a_value():
    metric = {
        "type": "Pods",
        "pods": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "4"}},
    }
    sim = start([*manifest(replicas=2, probes=SOUND), hpa_doc([metric], maxReplicas=8)])
    custom = sim.metrics.custom = FakeCustom(per_pod=6, per_object=0)
    sim.env.run(until=1)
    custom._pods = list(sim.pods.values())
    sim.env.run(until=16)  # readiness does not matter for a Pods metric: 6 / 4 = 1.5 → ceil(1.5 × 2) = 3
    assert rescales(sim) == [(15, "New size: 3; reason: pods metric queue above target")]
    assert status(sim)["currentMetrics"][0]["pods"]["current"] == {"averageValue": "6"}


def test_an_object_value_metric_multiplies_the_ready_pods():
    metric = {
        "type": "Object",
        "object": {
            "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "llm"},
            "metric": {"name": "requests_per_second"},
            "target": {"type": "Value", "value": "100"},
        },
    }
    sim = start([*manifest(replicas=1, probes=SOUND), hpa_doc([metric], maxReplicas=8)])
    sim.metrics.custom = FakeCustom(per_pod=0, per_object=250)
    sim.env.run(until=200)
    assert rescales(sim)[0][1] == "New size: 3; reason: Service metric requests_per_second above target"


def test_without_a_custom_metrics_api_a_pods_metric_says_so():
    metric = {
        "type": "Pods",
        "pods": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "4"}},
    }
    sim = start([*manifest(replicas=1), hpa_doc([metric])])
    sim.env.run(until=16)
    (event,) = hpa_events(sim, "FailedGetPodsMetric")
    assert event.message == (
        "unable to get metric queue: unable to fetch metrics from custom metrics API: "
        "the server could not find the requested resource (get pods/queue.custom.metrics.k8s.io)"
    )


def test_memory_average_value_and_a_container_cpu_metric():
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}},
    }
    container_cpu = {
        "type": "ContainerResource",
        "containerResource": {
            "name": "cpu",
            "container": "server",
            "target": {"type": "Utilization", "averageUtilization": 100},
        },
    }
    sim = start(
        [
            *manifest(replicas=1, probes=SOUND, resources=CPU_1),
            hpa_doc([memory, container_cpu], maxReplicas=8),
        ]
    )
    sim.env.run(until=400)
    # the working set is a constant 3 GiB estimate (sim/metricsserver.py): 3 GiB / 1 GiB → 3
    assert rescales(sim)[0][1] == "New size: 3; reason: memory resource above target"
    statuses = {m["type"]: m for m in status(sim)["currentMetrics"]}
    assert statuses["Resource"]["resource"]["current"] == {"averageValue": "3221225472"}
    assert statuses["ContainerResource"]["containerResource"]["container"] == "server"
    assert statuses["ContainerResource"]["containerResource"]["current"]["averageUtilization"] == 5
