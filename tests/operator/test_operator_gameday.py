"""Game day: the kopf timer runs the scenario's chaos schedule (pod-kill) while the lab runs,
reproducibly, without bursts after downtime, and not at all without spec.gameDay."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import pytest
import yaml
from operator_support import create_lab, lab, wait_condition, wait_for

from slolab.catalog import scenario as scenario_mod
from slolab_operator import gameday

SELECTOR = {"app.kubernetes.io/name": "llm-serving"}


def step(**fields) -> scenario_mod.ChaosStep:
    return scenario_mod.ChaosStep.model_validate({"selector": SELECTOR, **fields})


# -- the schedule ------------------------------------------------------------------------------


def test_a_one_off_step() -> None:
    steps = [step(at_s=30)]
    assert gameday.due(steps, elapsed_s=29.9, limit_s=600) == []
    (injection,) = gameday.due(steps, elapsed_s=30, limit_s=600)
    assert (injection.step, injection.occurrence, injection.due_s, injection.done_after) == (0, 0, 30, 1)
    assert gameday.due(steps, elapsed_s=500, limit_s=600, done={"0": 1}) == []


def test_a_repeating_step_runs_once_per_period() -> None:
    steps = [step(at_s=10, every_s=60)]
    assert [gameday.occurrences(steps[0], t, 600) for t in (0, 10, 69, 70, 130, 10_000)] == [
        0,
        1,
        1,
        2,
        3,
        10,
    ]
    (injection,) = gameday.due(steps, elapsed_s=75, limit_s=600, done={"0": 1})
    assert (injection.occurrence, injection.due_s) == (1, 70)


def test_no_burst_after_downtime_and_nothing_after_the_deadline() -> None:
    steps = [step(every_s=10), step(at_s=5)]
    injections = gameday.due(steps, elapsed_s=95, limit_s=1000, done={"0": 2})
    assert [(i.step, i.occurrence, i.done_after) for i in injections] == [(1, 0, 1), (0, 9, 10)]
    assert gameday.due(steps, elapsed_s=5000, limit_s=100, done={"0": 11, "1": 1}) == []


def test_a_step_needs_a_time() -> None:
    with pytest.raises(ValueError, match="needs at_s, every_s or both"):
        step()


def test_pick_is_reproducible_and_skips_pods_going_away() -> None:
    pods = [{"metadata": {"name": f"llm-{i}"}, "status": {"phase": "Running"}} for i in range(6)]
    pods.append({"metadata": {"name": "llm-gone", "deletionTimestamp": "x"}, "status": {"phase": "Running"}})
    pods.append({"metadata": {"name": "llm-done"}, "status": {"phase": "Succeeded"}})
    first = gameday.pick(pods, 2, seed=1, step=0, occurrence=3)
    assert first == gameday.pick(list(reversed(pods)), 2, seed=1, step=0, occurrence=3)
    assert len(first) == 2 and not {"llm-gone", "llm-done"} & set(first)
    picks = {tuple(gameday.pick(pods, 1, seed=1, step=0, occurrence=n)) for n in range(20)}
    assert len(picks) > 1  # different occurrences hit different pods
    assert gameday.pick(pods[:1], 3, seed=1, step=0, occurrence=0) == ["llm-0"]


def test_record_keeps_the_latest_events() -> None:
    state = None
    for n in range(25):
        injection = gameday.Injection(step=0, occurrence=n, due_s=n, done_after=n + 1)
        state = gameday.record(state, injection, {"step": 0, "targets": [f"p{n}"]})
    assert state["injections"] == 25 and state["done"] == {"0": 25}
    assert [e["targets"][0] for e in state["events"]] == [f"p{n}" for n in range(5, 25)]


# -- the timer, for real -----------------------------------------------------------------------


def _pod(name: str, labels: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "lab-oscar", "labels": labels},
        "spec": {"containers": [{"name": "llm", "image": "slolab/serve:0.1.0"}]},
        "status": {"phase": "Running"},
    }


def test_the_timer_kills_pods_on_schedule(catalog_root: Path, emulator, operator, api) -> None:
    file = catalog_root / "scenarios" / "llama-8b-h100" / "scenario.yaml"
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    doc["chaos"] = [{"action": "pod-kill", "at_s": 0, "every_s": 0.5, "selector": SELECTOR, "count": 1}]
    file.write_text(yaml.safe_dump(doc), encoding="utf-8")

    core = kubernetes.client.CoreV1Api(api)
    with operator():
        create_lab(api, "oscar", lab="readiness-probes", gameDay=True, seed=3)
        create_lab(api, "peggy", lab="readiness-probes")  # no game day
        wait_condition(emulator, "oscar", "Ready")
        wait_condition(emulator, "peggy", "Ready")
        for i in range(4):
            core.create_namespaced_pod("lab-oscar", _pod(f"llm-{i}", {**SELECTOR, "pod": str(i)}))
        core.create_namespaced_pod("lab-oscar", _pod("bystander", {"app": "other"}))
        core.create_namespaced_pod(
            "lab-peggy",
            {
                **_pod("llm-0", SELECTOR),
                "metadata": {"name": "llm-0", "namespace": "lab-peggy", "labels": SELECTOR},
            },
        )

        def killed() -> list[str]:
            events = ((lab(emulator, "oscar").get("status") or {}).get("gameDay") or {}).get("events") or []
            return [t for e in events for t in e["targets"]]

        wait_for("two pods killed", lambda: len(killed()) >= 2 and killed())
    state = lab(emulator, "oscar")["status"]["gameDay"]
    targets = killed()
    assert len(set(targets)) == len(targets), "a pod was killed twice"
    left = set(emulator.objects("v1/pods", "lab-oscar"))
    assert "bystander" in left
    assert not set(targets) & left
    assert state["done"]["0"] >= 2 and state["injections"] == len(state["events"])
    assert all(e["action"] == "pod-kill" and e["step"] == 0 for e in state["events"])
    assert "gameDay" not in lab(emulator, "peggy")["status"]
    assert set(emulator.objects("v1/pods", "lab-peggy")) == {"llm-0"}
