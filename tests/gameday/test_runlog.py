"""The run log's view of the cluster's events (slolab.gameday.run.note_events)."""

from __future__ import annotations

from slolab.gameday import run
from slolab.run import timeline

REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


def _refused(t_s: float, pod: str) -> timeline.Event:
    return timeline.Event(t_s, "Pod", pod, timeline.EVICTION_REFUSED, REFUSED, timeline.WARNING)


def test_a_drains_retried_refusals_fold_into_one_line_per_pod() -> None:
    """kubectl drain retries a refused eviction every 5 s; the log keeps the first refusal with
    the count and the last retry, as kubectl folds a repeated event."""
    t0 = 100.0
    events = [_refused(t0 + 720 + 5 * i, "llm-a") for i in range(13)]
    events.append(timeline.Event(t0 + 722, "Pod", "llm-b", timeline.EVICTED, "Eviction API: evicting"))
    log: list[run.LogLine] = [run.LogLine(720, "drain", "Node/n2", "kubectl drain")]
    run.note_events(log, events, t0, 1800)
    refused = [line for line in log if line.detail.startswith(timeline.EVICTION_REFUSED)]
    assert len(refused) == 1
    assert refused[0].at_s == 720
    assert refused[0].detail.endswith("(×13, retried until T+13:00)")
    assert [line.action for line in log] == ["drain", "observed", "observed"]
    assert log[2].target == "Pod/llm-b"


def test_a_single_refusal_is_logged_as_it_is() -> None:
    log: list[run.LogLine] = []
    run.note_events(log, [_refused(50, "llm-a")], 0, 1800)
    assert [line.detail for line in log] == [f"{timeline.EVICTION_REFUSED}: {REFUSED}"]
