"""Pods per node over time, from the scheduling events every backend records (kubectl's words)."""

from __future__ import annotations

from slolab.report import podsplacement


def _e(t, kind, name, reason, message=""):
    return {"time_s": t, "kind": kind, "name": name, "reason": reason, "message": message}


def test_pods_count_on_their_node_from_scheduled_until_deleted_and_pending_before():
    events = [
        _e(0, "ReplicaSet", "llm-1", "SuccessfulCreate", "Created pod: llm-1-a"),
        _e(0, "ReplicaSet", "llm-1", "SuccessfulCreate", "Created pod: llm-1-b"),
        _e(0, "Pod", "llm-1-a", "Scheduled", "Successfully assigned lab-x/llm-1-a to gpu-1"),
        _e(0, "Pod", "llm-1-b", "FailedScheduling", "0/3 nodes are available: ..."),
        _e(40, "Pod", "llm-1-b", "Scheduled", "Successfully assigned lab-x/llm-1-b to gpu-1"),
        _e(90, "Pod", "llm-1-a", "Deleted", "pod llm-1-a is gone"),
    ]
    assert podsplacement.series(events) == {
        podsplacement.PENDING: [(0, 1), (40, 0)],
        "gpu-1": [(0, 1), (40, 2), (90, 1)],
    }


def test_no_scheduling_events_no_series():
    assert podsplacement.series([_e(0, "Load", "chat", "LoadStarted")]) == {}
