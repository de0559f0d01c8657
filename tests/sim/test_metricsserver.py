"""metrics-server on the simulator: scrapes every 15 s, CPU as a rate between its last two points."""

from __future__ import annotations

import math

import pytest
from sim_support import NS, SOUND, manifest, start

from slolab.run import request
from slolab.sim import cadvisor, metricsapi, metricsserver

SELECTOR = {"matchLabels": {"app": "llm"}}


def server(sim) -> metricsserver.MetricsServer:
    (ms,) = [c for c in sim.controllers if isinstance(c, metricsserver.MetricsServer)]
    return ms


def cpu(sim, container=None):
    return sim.metrics.resource.pod_metrics("cpu", NS, SELECTOR, container)


def test_it_registers_the_resource_metrics_api_and_scrapes_every_resolution():
    sim = start(manifest(replicas=1, probes=SOUND))
    ms = server(sim)
    assert sim.metrics.resource is ms and ms.resolution_s == 15.0
    sim.env.run(until=61)
    assert ms.scrapes == 4


def test_an_idle_server_uses_its_baseline_over_a_window_of_one_resolution():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=200)
    ((name, metric),) = cpu(sim).items()
    assert metric.value == pytest.approx(cadvisor.BASELINE_CORES)
    assert metric.window_s == pytest.approx(15.0)
    assert 200 - 15 < metric.timestamp_s <= 200
    memory = sim.metrics.resource.pod_metrics("memory", NS, SELECTOR)[name]
    assert memory.value == metricsserver.MODEL_SERVER_WORKING_SET_BYTES


def test_a_busy_engine_burns_one_core_and_the_value_lags_the_load():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=150)
    before = next(iter(cpu(sim).values())).value
    for i in range(20):
        sim.send("llm", request.Request(i, sim.env.now, 400, 2000))
    sim.env.run(until=sim.env.now + 1)
    assert next(iter(cpu(sim).values())).value == before, "nothing new until the next scrape"
    sim.env.run(until=sim.env.now + 31)
    assert next(iter(cpu(sim).values())).value == pytest.approx(1 + cadvisor.BASELINE_CORES, rel=0.02)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_pod_has_no_metric_until_two_points_of_the_same_container(seed):
    sim = start(manifest(replicas=1, probes=SOUND), seed=seed)
    ms = server(sim)
    seen: list[tuple[float, bool]] = []

    def watch():
        while True:
            yield sim.env.timeout(1)
            seen.append((sim.env.now, bool(cpu(sim))))

    sim.env.process(watch())
    sim.env.run(until=120)
    (pod,) = sim.pods.values()
    started = pod.containers[0].started_at_s
    scrape = ms.offset_s + ms.resolution_s * math.ceil((started - ms.offset_s) / ms.resolution_s)
    # its first point comes at the first scrape after it started; if it is then 10-15 s old it
    # gets a synthetic point at its start (0 CPU seconds), else it waits for the next scrape
    fresh = scrape - started >= metricsserver.FRESH_CONTAINER_MIN_S
    expected = scrape if fresh else scrape + ms.resolution_s
    first = next(t for t, has in seen if has)
    assert expected <= first < expected + 1


def test_a_restarted_container_starts_over():
    sim = start(manifest(replicas=1, probes=SOUND))
    ms = server(sim)
    sim.env.run(until=150)
    (pod,) = sim.pods.values()
    sim.kill_container(pod.name)
    restarted_s = None
    while restarted_s is None or sim.env.now < restarted_s + 1:
        sim.env.run(until=sim.env.now + 1)
        c = pod.containers[0]
        if restarted_s is None and c.state == "running" and c.instance == 2:
            restarted_s = c.started_at_s
    assert cpu(sim) == {}, "the old container's points are not the new one's"
    sim.env.run(until=restarted_s + 2 * ms.resolution_s + 1)
    assert cpu(sim)


def test_pods_on_a_node_whose_kubelet_stopped_drop_out():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=150)
    (pod,) = sim.pods.values()
    assert cpu(sim)
    sim.set_node_ready(pod.node, False)
    sim.env.run(until=sim.env.now + 16)
    assert cpu(sim) == {}


def test_a_container_name_selects_its_usage_and_an_unknown_one_is_an_error():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=200)
    assert cpu(sim, "server")
    with pytest.raises(metricsapi.MetricsUnavailable, match="container nope not present in metrics for pod"):
        cpu(sim, "nope")
