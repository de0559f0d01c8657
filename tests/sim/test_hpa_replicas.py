"""The HPA's replica calculator on hand-made pods and metrics: how unready, missing and new pods count."""

from __future__ import annotations

import types

import pytest

from slolab.sim import hpa_replicas, metricsapi, objects

TOL = hpa_replicas.Tolerances()
SELECTOR = {"matchLabels": {"app": "llm"}}


def pod(name, cpu="1", phase="Running", ready=True, started_s=0.0, ready_since_s=60.0, deleting=False):
    meta = types.SimpleNamespace(
        name=name, namespace="ns", labels={"app": "llm"}, deletion_s=1.0 if deleting else None
    )
    resources = {"requests": {"cpu": cpu}} if cpu is not None else {}
    p = objects.Pod(
        meta=meta, spec={"containers": [{"name": "server", "resources": resources}]}, containers=[]
    )
    p.phase = phase
    p.conditions["Initialized"] = objects.Condition(True, started_s)
    p.conditions["Ready"] = objects.Condition(ready, ready_since_s)
    return p


class Fake:
    """The part of controller.API the calculator reads: pods, the clock, the resource metrics."""

    def __init__(self, pods, cpu_by_pod, now_s=1000.0, timestamp_s=None):
        self.now_s = now_s
        self._pods = pods
        self.store = types.SimpleNamespace(list=lambda *_: self._pods)
        ts = now_s if timestamp_s is None else timestamp_s
        values = {n: metricsapi.PodMetric(v, ts, 15.0) for n, v in cpu_by_pod.items()}
        resource = types.SimpleNamespace(pod_metrics=lambda *_: dict(values))
        self.metrics = metricsapi.MetricsAPIs(resource=resource)


def replicas(pods, cpu_by_pod, target=50, current=None, **fake):
    calc = hpa_replicas.Calculator(Fake(pods, cpu_by_pod, **fake))
    n = len(pods) if current is None else current
    return calc.resource_replicas(n, target, "cpu", TOL, "ns", SELECTOR, None)


def test_ready_pods_scale_by_the_ratio_of_summed_usage_to_summed_requests():
    count, utilization, raw, _ = replicas([pod("a"), pod("b")], {"a": 0.9, "b": 0.7})
    assert (count, utilization, raw) == (4, 80, 800)  # 160 % of 2 cores / 50 % → ceil(1.6 × 2)


def test_utilization_is_truncated_to_a_whole_percent_before_the_ratio():
    assert replicas([pod("a")], {"a": 0.5549}, target=50)[:2] == (1, 55)  # 55.5 % → 55: 1.1, within
    assert replicas([pod("a")], {"a": 0.5599}, target=50)[:2] == (2, 56)  # 1.12


def test_unready_pods_count_as_zero_on_a_scale_up():
    loading = pod("b", ready=False, started_s=800.0, ready_since_s=850.0)  # within 5 min of its start
    # a alone: 90 % → 1.8; with b at 0: 45 % → 0.9, the direction flips, so the count stays
    assert replicas([pod("a"), loading], {"a": 0.9, "b": 0.9})[0] == 2
    pods = [pod("a"), loading]
    assert replicas(pods, {"a": 2.0, "b": 2.0})[0] == 4  # (2 + 0) / 2 = 200 % → ceil(2 × 2)


def test_pending_pods_are_unready_and_deleted_ones_are_ignored():
    pods = [pod("a"), pod("p", phase="Pending"), pod("d", deleting=True)]
    assert replicas(pods, {"a": 2.0, "d": 0.0}, current=3)[0] == 4  # a and p (as 0): 100 % × 2 / 50 %


def test_missing_pods_count_as_the_full_request_on_a_scale_down():
    pods = [pod("a"), pod("b"), pod("m")]
    # a and b alone: 20 % → 0.4; m at 100 % of its request: (20 + 20 + 100) / 3 = 46 % → 0.93, within 10 %
    assert replicas(pods, {"a": 0.2, "b": 0.2})[0] == 3
    pods = [pod("a"), pod("b"), pod("c"), pod("m")]
    assert replicas(pods, {"a": 0.1, "b": 0.1, "c": 0.1})[0] == 3  # (10·3 + 100) / 4 = 32 % → ceil(0.64 × 4)


def test_a_new_pod_whose_metric_predates_one_window_after_readiness_is_unready():
    young = pod("y", started_s=900.0, ready_since_s=990.0)  # within 5 min of its start
    fake = {"now_s": 1000.0, "timestamp_s": 1000.0}  # 1000 < 990 + 15: not a full window since Ready
    assert replicas([pod("a"), young], {"a": 1.0, "y": 1.0}, **fake)[0] == 2  # y as 0: 50 % → 1.0
    fake = {"now_s": 1010.0, "timestamp_s": 1010.0}
    assert replicas([pod("a"), young], {"a": 1.0, "y": 1.0}, **fake)[0] == 4  # counted: 100 % → 2 × 2


def test_after_five_minutes_only_a_never_ready_pod_that_flipped_early_is_unready():
    old_unready = pod("u", ready=False, started_s=0.0, ready_since_s=10.0)  # flipped within 30 s of start
    assert replicas([pod("a"), old_unready], {"a": 1.0, "u": 1.0})[0] == 2  # u as 0: 50 % → 1.0
    late_unready = pod("u", ready=False, started_s=0.0, ready_since_s=500.0)
    assert replicas([pod("a"), late_unready], {"a": 1.0, "u": 1.0})[0] == 4  # counted at 100 %


def test_a_missing_request_names_the_container_and_the_pod():
    with pytest.raises(
        hpa_replicas.MetricError, match="missing request for cpu in container server of Pod a"
    ):
        replicas([pod("a", cpu=None)], {"a": 1.0})


def test_no_metrics_at_all_and_only_unready_metrics_are_errors():
    with pytest.raises(hpa_replicas.MetricError, match="no metrics returned from resource metrics API"):
        replicas([pod("a")], {})
    with pytest.raises(hpa_replicas.MetricError, match=r"did not receive metrics for targeted pods"):
        replicas([pod("a", phase="Pending")], {"a": 1.0})


def test_average_value_targets_use_the_target_status_replicas():
    per_pod = hpa_replicas.Calculator.per_pod_replicas
    assert per_pod(2, 21_000, 10_000, TOL) == (2, 10_500)  # 1.05: within
    assert per_pod(2, 23_000, 10_000, TOL) == (3, 11_500)
    assert per_pod(0, 0, 10_000, TOL) == (0, 0)
