"""Scripted runs of the chaos-pod-kill lab for its grader's unit tests (fake backend).

``backend(lab, case)`` is what the grader sees: a Deployment ``llm`` of three pods (a, b on
slolab-worker2, c on slolab-worker3) that serve from WARM_S = 96 s, so the load starts then and
the chaos at CHAOS_S = 96 + steady_s (60) = 156 s. The grader applies the Schedule and drains
slolab-worker2 (it runs the most pods): the scripted drain evicts a at once and b when a's
replacement d serves (a budget of maxUnavailable 1), and ends when b is gone (DRAIN_END_S).
Chaos Mesh kills c at 456 s and d at 756 s; each replacement serves 96 s after. Every case is
the good run with one thing changed, named for the check it must fail.
"""

from __future__ import annotations

from slolab.backends import base, fake, fakescript
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.run import request, timeline

WARM_S = 96.0  # created 0 + start 1 + load 90 + Ready 5 s later
CHAOS_S = WARM_S + 60.0  # + steady_s of lab.yaml
END_S = CHAOS_S + 660.0  # + chaos_s
RATE_RPS = 12.0
SERVE_AFTER_S = 96.0  # a new pod serves this long after its creation
DRAIN_END_S = CHAOS_S + SERVE_AFTER_S + 5 + 4  # b evicted 5 s after d serves, gone 4 s later
NODES = {"a": "slolab-worker2", "b": "slolab-worker2", "c": "slolab-worker3"}

#: case -> the checks it must fail (empty: every check passes).
CASES = {
    "good": set(),
    "errors": {"failed_pct"},
    "stream-cut": {"drain_streams_cut"},
    "slow": {"ttft_p99_s"},
    "capacity": {"drain_capacity_pct"},
    "drain-timeout": {"drain_capacity_pct"},
}


def pods(case: str) -> list[fakescript.Pod]:
    b_evicted = CHAOS_S + 4 if case == "capacity" else CHAOS_S + SERVE_AFTER_S + 5
    return [
        fakescript.Pod("a", 0.0, deleted_s=CHAOS_S + 4),
        fakescript.Pod("b", 0.0, deleted_s=b_evicted + 4),
        fakescript.Pod("c", 0.0, deleted_s=456.0),
        fakescript.Pod("d", CHAOS_S, deleted_s=756.0),
        fakescript.Pod("e", b_evicted),
        fakescript.Pod("f", 456.0),
        fakescript.Pod("g", 756.0),
    ]


def chaos_events(case: str) -> list[base.Event]:
    b_evicted = CHAOS_S + 4 if case == "capacity" else CHAOS_S + SERVE_AFTER_S + 5
    out = [
        base.Event(CHAOS_S, "Pod", "a", timeline.EVICTED, "Eviction API: evicting"),
        base.Event(b_evicted, "Pod", "b", timeline.EVICTED, "Eviction API: evicting"),
    ]
    for t, pod in ((456.0, "c"), (756.0, "d")):
        out.append(
            base.Event(
                t, "PodChaos", "llm-pod-kill-x", timeline.CHAOS_APPLIED, f"Successfully apply chaos for {pod}"
            )
        )
    return out


def requests(case: str) -> list:
    rate = 0.2 if case == "no-load" else RATE_RPS
    out = fake.steady(rate_rps=rate, start_s=WARM_S, end_s=END_S + 30, ttft_s=0.3, profile="rag")
    if case == "errors":  # 15 s of errors: 180 of 8,640 requests
        out = [
            fake.request(
                r.id, r.arrival_s, status=request.NO_RESPONSE, error="connection refused", profile="rag"
            )
            if 500 <= r.arrival_s < 515
            else r
            for r in out
        ]
    if case == "slow":  # 100 s of 5 s TTFT inside the chaos window
        out = [
            fake.request(r.id, r.arrival_s, ttft_s=5.0, profile="rag") if 460 <= r.arrival_s < 560 else r
            for r in out
        ]
    if case == "stream-cut":  # 8 streams on a, cut when the drain killed it at once
        out += [
            fake.request(
                100_000 + i,
                CHAOS_S - 3,
                status=request.NO_RESPONSE,
                error="stream cut: pod a was killed",
                e2e_s=4.0,
                pod="a",
                profile="rag",
            )
            for i in range(8)
        ]
    return out


def backend(lab: lab_mod.Lab, case: str) -> fake.FakeBackend:
    """The FakeBackend the chaos-pod-kill grader runs on in ``case``."""
    workload = fakescript.Workload(pods=pods(case))
    b = workload.backend(lab, scenario_mod.load(lab.scenario), requests=requests(case), rate_rps=RATE_RPS)
    b._events.extend(chaos_events(case))
    for _, objects in b.cluster._steps:  # where the pods run
        for obj in objects:
            if obj.get("kind") == "Pod":
                obj["spec"] = {"nodeName": NODES.get(obj["metadata"]["name"], "slolab-worker3")}

    def drain(clock: fake.FakeClock, node: str, timeout_s: float | None) -> fake.FakeDrain:
        if case == "drain-timeout":
            return fake.FakeDrain(clock, node, clock.now_s() + (timeout_s or 600.0), ok=False)
        return fake.FakeDrain(clock, node, CHAOS_S + 8 if case == "capacity" else DRAIN_END_S)

    b.cluster.drain_script = drain
    return b
