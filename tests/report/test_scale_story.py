"""The timeline's autoscaling story: scale events marked, the asked rate of a rate curve, the
HPA's desired replicas among the PromQL series."""

from __future__ import annotations

from pathlib import Path

from slolab.backends import fake
from slolab.catalog import scenario as scenario_mod
from slolab.load import requestlog
from slolab.report import promseries, timeline


def event(t: float, reason: str, message: str = "", kind: str = "HorizontalPodAutoscaler") -> dict:
    return {"time_s": t, "kind": kind, "name": "llm", "reason": reason, "message": message, "type": "Normal"}


def test_scale_events_come_from_the_hpas_and_kedas_events() -> None:
    events = [
        event(10, "KEDAScaleTargetActivated", "Scaled apps/v1.Deployment x from 0 to 1", "ScaledObject"),
        event(100, "SuccessfulRescale", "New size: 3; reason: external metric s0-prometheus above target"),
        event(400, "SuccessfulRescale", "New size: 2; reason: All metrics below target"),
        event(450, "FailedGetExternalMetric", "unable to get external metric"),
        event(900, "KEDAScaleTargetDeactivated", "Deactivated Deployment x from 1 to 0", "ScaledObject"),
    ]
    # the desired series is not used when the timeline has scale events
    got = timeline.scale_events(events, [(0, 5), (50, 6)])
    assert got == [(10, 1, 1), (100, 3, 1), (400, 2, -1), (900, 0, -1)]


def test_without_scale_events_each_change_of_desired_replicas_is_one() -> None:
    desired = [(0.0, 1.0), (15.0, 1.0), (30.0, 3.0), (45.0, 3.0), (60.0, 2.0)]
    assert timeline.scale_events([event(5, "Scheduled", "", "Pod")], desired) == [(30.0, 3, 1), (60.0, 2, -1)]
    assert timeline.scale_events([], []) == []


def profile(curve: list[tuple[float, float]] | None) -> scenario_mod.TrafficProfile:
    points = None if curve is None else [scenario_mod.RatePoint(at_s=a, factor=f) for a, f in curve]
    return scenario_mod.TrafficProfile(
        rate_rps=2.0,
        rate_curve=points,
        prompt_tokens={"distribution": "constant", "value": 100},
        output_tokens={"distribution": "constant", "value": 10},
    )


def test_the_asked_rate_follows_a_curve_from_the_loads_start() -> None:
    log = requestlog.RequestLog([], profile="ramp", rate_rps=2.0, started_s=100.0, stopped_s=120.0)
    flat = requestlog.RequestLog([], profile="flat", rate_rps=2.0, started_s=0.0, stopped_s=50.0)
    profiles = {"ramp": profile([(0, 1), (20, 3)]), "flat": profile(None)}
    assert timeline.asked_rate([log, flat], profiles) == [
        (100.0, 2.0),
        (105.0, 3.0),
        (110.0, 4.0),
        (115.0, 5.0),
        (120.0, 6.0),
        (120.0, 6.0),
    ]
    assert timeline.asked_rate([flat], profiles) == []  # a flat rate draws no line


def test_the_replicas_panel_asks_for_the_hpas_desired_replicas() -> None:
    wanted = {q.label: q for q in promseries.queries("lab-x", "llm")}
    assert wanted["HPA desired"].expr == (
        'sum(kube_horizontalpodautoscaler_status_desired_replicas{namespace="lab-x"})'
    )
    assert wanted["HPA desired"].panel == "replicas" and wanted[promseries.DESIRED].panel == "replicas"


def test_a_timeline_with_scales_and_a_curve_draws(tmp_path: Path) -> None:
    wanted = promseries.queries("lab-x", "llm")
    answers = {q.expr: [] for q in wanted}
    answers[wanted[0].expr] = [fake.PromSeries({}, [(0, 1), (100, 3), (400, 2)])]
    answers[wanted[-1].expr] = [fake.PromSeries({}, [(0, 1), (90, 3), (390, 2)])]
    prom = promseries.fetch(fake.FakeProm(fake.FakeClock(600), answers), wanted, 600)
    assert set(prom["series"]["replicas"]) == {"desired", "HPA desired"}
    reqs = fake.steady(rate_rps=2, start_s=0, end_s=600, ttft_s=0.3, profile="ramp")
    log = requestlog.RequestLog(reqs, profile="ramp", rate_rps=2.0, started_s=0, stopped_s=600)
    doc = {"lab": "x", "backend": "fake", "seed": 1, "score": "1/1", "run_s": 600, "events": []}
    data = timeline.prepare(doc, prom=prom, logs=[log], profiles={"ramp": profile([(0, 1), (300, 3)])})
    assert data["scales"] == [(105.0, 3, 1), (405.0, 2, -1)]  # from the 15 s steps of the range query
    assert data["asked"][0] == (0.0, 2.0) and data["asked"][-1] == (600.0, 6.0)
    out = timeline.draw(tmp_path / "t.png", data)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
