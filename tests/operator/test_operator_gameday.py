"""Game day: the kopf timer runs the scenario's chaos schedule (pod-kill) while the lab runs,
reproducibly, without bursts after downtime, and not at all without spec.gameDay."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import yaml
from operator_support import create_lab, lab, wait_condition, wait_for

from slolab.run import chaos
from slolab_operator import gameday

SELECTOR = {"app.kubernetes.io/name": "llm-serving"}


# -- the status bookkeeping (the schedule itself: tests/run/test_chaos.py) ---------------------


def test_record_keeps_the_latest_events() -> None:
    state = None
    for n in range(25):
        injection = chaos.Injection(step=0, occurrence=n, due_s=n, done_after=n + 1)
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
