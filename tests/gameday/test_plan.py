"""The game-day plan (slolab.gameday.plan) and its Chaos Mesh objects (slolab.gameday.chaosmesh).

Chaos Mesh's ``@every`` schedule fires one period after the Schedule is created
(https://chaos-mesh.org/docs/define-scheduling-rules/, robfig/cron's ``Every``), so a 30-minute game
day with a kill every 5 minutes kills at 5, 10, 15, 20 and 25 minutes.
"""

from __future__ import annotations

import pytest

from slolab import errors
from slolab.catalog import lab as lab_mod
from slolab.gameday import chaosmesh, plan


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("900s", 900)])
def test_durations_are_go_durations(text: str, seconds: float) -> None:
    assert plan.parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"), [("30", "not a duration"), ("half an hour", "not a duration"), ("5m", "shorter")]
)
def test_a_bad_duration_names_the_field(text: str, message: str) -> None:
    with pytest.raises(errors.InputError, match=f"DURATION.*{message}"):
        plan.parse_duration(text)


def test_a_bad_team_names_the_field() -> None:
    with pytest.raises(errors.InputError, match="TEAM"):
        plan.check_team("../etc")


def test_the_schedule_has_kills_a_delay_a_drain_and_a_node_loss() -> None:
    steps, every_s = plan.schedule(1800)
    assert every_s == 300
    assert [s.at_s for s in steps if s.action == plan.POD_KILL] == [300, 600, 900, 1200, 1500]
    once = {
        a: [s.at_s for s in steps if s.action == a]
        for a in (plan.NETWORK_DELAY, plan.DRAIN, plan.UNCORDON, plan.NODE_DOWN, plan.NODE_UP)
    }
    assert once == {
        plan.NETWORK_DELAY: [360],
        plan.DRAIN: [720],
        plan.UNCORDON: [990],
        plan.NODE_DOWN: [1170],
        plan.NODE_UP: [1440],
    }
    assert [s.at_s for s in steps] == sorted(s.at_s for s in steps)
    assert all(s.at_s < 1800 for s in steps)


def test_a_lab_without_game_day_slos_gets_the_defaults() -> None:
    p = plan.make("readiness-probes", team="a", duration_s=1800)
    assert p.slo == plan.Slo(plan.DEFAULT_AVAILABILITY_PCT, plan.DEFAULT_TTFT_P99_S)
    assert p.profile == "chat"  # the grader's profile, steady
    assert "99.5 %" in p.hypothesis and "2 s" in p.hypothesis


def test_keda_scaling_game_days_use_the_steady_profile() -> None:
    # the grader's chat-ramp has a rate curve; a game day's load is steady
    assert plan.make("keda-scaling", duration_s=1800).profile == "rag-steady"


def test_chaos_objects_are_chaos_mesh_v1alpha1() -> None:
    p = plan.make("readiness-probes", team="a", duration_s=1800)
    schedule = chaosmesh.pod_kill_schedule("lab-readiness-probes", {"app": "llm"}, p.kill_every_s, p.team)
    assert schedule["spec"]["schedule"] == "@every 5m"
    assert schedule["spec"]["type"] == "PodChaos"
    assert schedule["spec"]["podChaos"] == {
        "action": "pod-kill",
        "mode": "one",
        "selector": {"namespaces": ["lab-readiness-probes"], "labelSelectors": {"app": "llm"}},
    }
    delay = chaosmesh.network_delay("lab-readiness-probes", {"app": "llm"}, 126, p.team)
    assert delay["spec"]["duration"] == "2m6s"
    assert delay["spec"]["delay"]["latency"] == "100ms"


def test_chaos_objects_conform_to_the_upstream_crds() -> None:
    import test_crd_conformance as conformance

    crds = conformance.CRDs(conformance.require_crd_dir(conformance._candidates()))
    p = plan.make("readiness-probes", team="a", duration_s=1800)
    for doc in (
        chaosmesh.pod_kill_schedule("lab-x", {"app": "llm"}, p.kill_every_s, p.team),
        chaosmesh.network_delay("lab-x", {"app": "llm"}, 126, p.team),
    ):
        assert crds.validate(doc) == [], doc["kind"]


def test_a_scenario_name_points_at_its_labs() -> None:
    with pytest.raises(errors.InputError, match="llama-8b-h100 is a scenario") as caught:
        plan.make("llama-8b-h100")
    assert "readiness-probes" in str(caught.value)


def test_a_labs_failed_requests_budget_is_its_availability_slo() -> None:
    """chaos-pod-kill states its SLO as an error budget (failed_pct ≤ 1 %): availability 99 %."""
    lab = lab_mod.load("chaos-pod-kill")
    assert lab.slos["failed_pct"].unit == "%" and lab.slos["failed_pct"].objective == "max"
    p = plan.make("chaos-pod-kill", team="a", duration_s=1800)
    assert p.slo.availability_pct == 100.0 - lab.slos["failed_pct"].target
    assert p.slo.ttft_p99_s == lab.slos["ttft_p99_s"].target
