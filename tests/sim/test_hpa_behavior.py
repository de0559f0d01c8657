"""HPA normalisation on the simulated cluster: stabilization windows, policies, selectPolicy."""

from __future__ import annotations

from hpa_support import FakeExternal, condition, external, hpa_doc, rescales, status
from sim_support import manifest, start

Q10 = [external("q", average_value="10")]


def test_default_scale_down_waits_five_minutes_after_the_last_high_recommendation():
    sim = start([*manifest(replicas=4), hpa_doc(Q10, maxReplicas=8)])
    fake = sim.metrics.external = FakeExternal(q=40)  # 4 pods' worth: no change
    sim.env.run(until=61)
    fake.values["q"] = 10  # from the sync at 75 on, the proposal is 1
    sim.env.run(until=359)
    assert rescales(sim) == [], "the highest recommendation of the last 300 s (4, at 60) holds"
    able = condition(sim, "AbleToScale")
    assert (able["reason"], able["message"]) == (
        "ScaleDownStabilized",
        "recent recommendations were higher than current one, applying the highest recent recommendation",
    )
    assert status(sim)["desiredReplicas"] == 4
    sim.env.run(until=376)
    # the recommendation of 60 leaves the window strictly after 360 (time.Before), so at 375
    assert rescales(sim) == [(375, "New size: 1; reason: All metrics below target")]


def test_a_scale_down_window_in_behavior_replaces_the_default_and_policies_apply():
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 30}}
    sim = start([*manifest(replicas=4), hpa_doc(Q10, maxReplicas=8, behavior=behavior)])
    fake = sim.metrics.external = FakeExternal(q=40)
    sim.env.run(until=31)
    fake.values["q"] = 10
    sim.env.run(until=91)
    # recommendations of 4 at 15 and 30; at 60 the one of 30 is exactly 30 s old: out of the window
    assert rescales(sim) == [(60, "New size: 1; reason: All metrics below target")]


def test_scale_up_without_behavior_is_at_most_double_or_four_per_sync():
    sim = start([*manifest(replicas=1), hpa_doc(Q10, maxReplicas=20)])
    sim.metrics.external = FakeExternal(q=200)
    sim.env.run(until=46)
    assert [m for _, m in rescales(sim)] == [
        "New size: 4; reason: external metric q(nil) above target",
        "New size: 8; reason: external metric q(nil) above target",
        "New size: 16; reason: external metric q(nil) above target",
    ]
    limited = condition(sim, "ScalingLimited")
    assert (limited["status"], limited["reason"]) == ("True", "ScaleUpLimit")
    assert limited["message"] == "the desired replica count is increasing faster than the maximum scale rate"


def test_default_scale_up_policies_take_the_larger_of_four_pods_and_double():
    sim = start([*manifest(replicas=1), hpa_doc(Q10, maxReplicas=30, behavior={})])
    sim.metrics.external = FakeExternal(q=300)
    sim.env.run(until=46)
    assert [m.split(";")[0] for _, m in rescales(sim)] == ["New size: 5", "New size: 10", "New size: 20"]


def test_a_pods_policy_limits_each_period_to_its_value():
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    sim = start([*manifest(replicas=1), hpa_doc(Q10, maxReplicas=8, behavior=behavior)])
    sim.metrics.external = FakeExternal(q=80)
    sim.env.run(until=200)
    assert [(t, m.split(";")[0]) for t, m in rescales(sim)] == [
        (15, "New size: 2"),
        (75, "New size: 3"),
        (135, "New size: 4"),
        (195, "New size: 5"),
    ]
    assert condition(sim, "ScalingLimited")["reason"] == "ScaleUpLimit"


def test_select_policy_min_takes_the_smaller_change():
    policies = [
        {"type": "Pods", "value": 1, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ]
    behavior = {"scaleUp": {"selectPolicy": "Min", "policies": policies}}
    sim = start([*manifest(replicas=2), hpa_doc(Q10, maxReplicas=8, behavior=behavior)])
    sim.metrics.external = FakeExternal(q=80)
    sim.env.run(until=31)
    assert [m.split(";")[0] for _, m in rescales(sim)] == ["New size: 3", "New size: 4"]


def test_select_policy_disabled_never_scales_that_way():
    behavior = {"scaleDown": {"selectPolicy": "Disabled", "stabilizationWindowSeconds": 0}}
    sim = start([*manifest(replicas=3), hpa_doc(Q10, maxReplicas=8, behavior=behavior)])
    fake = sim.metrics.external = FakeExternal(q=10)
    sim.env.run(until=100)
    assert rescales(sim) == [] and status(sim)["desiredReplicas"] == 3
    limited = condition(sim, "ScalingLimited")
    assert (limited["status"], limited["reason"]) == ("True", "ScaleDownLimit")
    fake.values["q"] = 50
    sim.env.run(until=116)
    assert rescales(sim) == [(105, "New size: 5; reason: external metric q(nil) above target")]


def test_a_scale_up_window_takes_the_lowest_recent_recommendation():
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 60}}
    sim = start([*manifest(replicas=1), hpa_doc(Q10, maxReplicas=8, behavior=behavior)])
    fake = sim.metrics.external = FakeExternal(q=10)
    sim.env.run(until=16)
    fake.values["q"] = 40
    sim.env.run(until=74)
    assert rescales(sim) == [] and condition(sim, "AbleToScale")["reason"] == "ScaleUpStabilized"
    sim.env.run(until=76)  # the recommendation of 1 (at 15) is exactly 60 s old at 75: out
    assert rescales(sim) == [(75, "New size: 4; reason: external metric q(nil) above target")]


def test_a_per_hpa_tolerance_replaces_the_ten_percent():
    behavior = {"scaleUp": {"tolerance": "0.01"}}
    sim = start([*manifest(replicas=2), hpa_doc(Q10, maxReplicas=8, behavior=behavior)])
    sim.metrics.external = FakeExternal(q=21)  # 1.05: beyond 1 %
    sim.env.run(until=16)
    assert rescales(sim) == [(15, "New size: 3; reason: external metric q(nil) above target")]
