"""The live-namespace timeline (slolab.kube.observe) on an API emulator: pod lifecycles become
the simulator's event vocabulary, which slolab.grading.podtimes reads on every backend."""

from __future__ import annotations

import datetime as dt
import time

from slolab.grading import podtimes
from slolab.kube import client, observe
from slolab.run import timeline

T0 = float(int(time.time()) - 1000)  # the run started 1000 s ago (seconds since the epoch)


def stamp(offset_s: float, fraction: bool = False) -> str:
    when = dt.datetime.fromtimestamp(T0 + offset_s, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ")


def pod(ready: bool, started: float, restarts: int = 0, ready_at: float = 0.0) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "llm-abc",
            "namespace": "lab-x",
            "uid": "u1",
            "resourceVersion": "1",
            "creationTimestamp": stamp(1),
            "ownerReferences": [{"kind": "ReplicaSet", "name": "llm-5d9"}],
        },
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": stamp(ready_at),
                }
            ],
            "containerStatuses": [
                {
                    "name": "serve",
                    "restartCount": restarts,
                    "state": {"running": {"startedAt": stamp(started)}},
                }
            ],
        },
    }


def test_pod_lifecycle_becomes_timeline_events(emulator) -> None:
    kube = client.connect("emu", timeout_s=5)
    (
        emulator.k["get /api/v1/namespaces/lab-x/pods/llm-abc/log"]
        << (
            f"{stamp(3, True)} INFO loading weights\n{stamp(7, True)} INFO model llm loaded in 5.0 s\n"
        ).encode()
    )
    obs = observe.Observer(kube, "lab-x", T0, log_poll_s=0.0)
    kube.create(pod(ready=False, started=2))
    obs.poll()
    kube.patch("Pod", "llm-abc", pod(ready=True, started=2, ready_at=10), "lab-x")
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "llm-abc.1", "namespace": "lab-x", "uid": "e1", "resourceVersion": "1"},
            "involvedObject": {"kind": "Pod", "name": "llm-abc"},
            "reason": "Killing",
            "message": "Container serve failed liveness probe, will be restarted",
            "lastTimestamp": stamp(15),
            "count": 1,
        }
    )
    obs.poll()
    kube.patch("Pod", "llm-abc", pod(ready=True, started=20, restarts=1, ready_at=10), "lab-x")
    obs.poll()
    obs.poll()  # a poll with no change adds nothing
    kube.delete("Pod", "llm-abc", "lab-x")
    obs.poll()

    got = [(e.reason, round(e.time_s, 3)) for e in obs.events() if e.reason != timeline.DELETED]
    assert got == [
        ("SuccessfulCreate", 1.0),
        ("Started", 2.0),
        ("ModelLoaded", 7.0),
        ("Ready", 10.0),
        ("Killing", 15.0),
        ("Started", 20.0),
    ]
    assert [e.reason for e in obs.events()][-1] == "Deleted"
    loaded = next(e for e in obs.events() if e.reason == timeline.MODEL_LOADED)
    assert loaded.data["load_s"] == 5.0
    times = podtimes.collect(obs.events())["llm-abc"]
    assert (times.created_s, times.starts, times.serving_ready_s) == (1.0, 2, 10.0)
    assert times.kills == ["Container serve failed liveness probe, will be restarted"]
    series = obs.series()
    assert [v for _, v in series["pods"]] == [1, 0]
    assert [v for _, v in series["ready_pods"]] == [0, 1, 0]


def test_vllm_startup_line_gives_load_time_from_timestamps(emulator) -> None:
    kube = client.connect("emu", timeout_s=5)
    (
        emulator.k["get /api/v1/namespaces/lab-x/pods/llm-abc/log"]
        << (
            f"{stamp(1, True)} INFO an old container's line\n"
            f"{stamp(94.5, True)} INFO:     Application startup complete.\n"
        ).encode()
    )
    obs = observe.Observer(kube, "lab-x", T0, log_poll_s=0.0)
    kube.create(pod(ready=False, started=2))
    obs.poll()
    loaded = [e for e in obs.events() if e.reason == timeline.MODEL_LOADED]
    assert len(loaded) == 1
    assert loaded[0].time_s == 94.5 and loaded[0].data["load_s"] == 92.5


def test_background_polling_starts_and_stops(emulator) -> None:
    kube = client.connect("emu", timeout_s=5)
    kube.create(pod(ready=False, started=2))
    obs = observe.Observer(kube, "lab-x", T0, poll_s=0.05)
    obs.start()
    obs.stop()
    assert any(e.reason == timeline.SUCCESSFUL_CREATE for e in obs.events())
    assert obs.errors == []


def test_only_replicaset_pods_count_as_created(emulator) -> None:
    kube = client.connect("emu", timeout_s=5)
    job_pod = pod(ready=False, started=2)
    job_pod["metadata"].update(
        name="grade-1-x", uid="u2", ownerReferences=[{"kind": "Job", "name": "grade-1"}]
    )
    kube.create(job_pod)
    obs = observe.Observer(kube, "lab-x", T0, log_poll_s=1e9)
    obs.poll()
    assert [e.reason for e in obs.events()] == ["Started"]


def test_scheduler_events_are_kept_with_their_words(emulator) -> None:
    """kube-scheduler's Scheduled and FailedScheduling Events reach the timeline as kubectl shows
    them (graders quote them; the report draws pods per node from Scheduled)."""
    kube = client.connect("emu", timeout_s=5)
    obs = observe.Observer(kube, "lab-x", T0, log_poll_s=3600.0)
    failed = (
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) had "
        "untolerated taint(s). no new claims to deallocate, preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling."
    )
    for i, (reason, message, at) in enumerate(
        (
            ("FailedScheduling", failed, 4),
            ("Scheduled", "Successfully assigned lab-x/llm-abc to slolab-worker2", 9),
        )
    ):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"llm-abc.{i}",
                    "namespace": "lab-x",
                    "uid": f"s{i}",
                    "resourceVersion": "1",
                },
                "involvedObject": {"kind": "Pod", "name": "llm-abc"},
                "reason": reason,
                "type": "Warning" if reason == "FailedScheduling" else "Normal",
                "message": message,
                "lastTimestamp": stamp(at),
                "count": 1,
            }
        )
    obs.poll()
    obs.poll()  # seen once
    got = [(e.reason, e.time_s, e.message, e.type) for e in obs.events() if e.kind == "Pod"]
    assert got == [
        ("FailedScheduling", 4.0, failed, timeline.WARNING),
        ("Scheduled", 9.0, "Successfully assigned lab-x/llm-abc to slolab-worker2", timeline.NORMAL),
    ]


def test_argo_rollouts_events_join_the_timeline(emulator) -> None:
    """The Argo Rollouts controller's Events of a Rollout and its AnalysisRuns (aborted here) take
    the reasons the simulator records; other Rollout Events stay out."""
    kube = client.connect("emu", timeout_s=5)
    obs = observe.Observer(kube, "lab-x", T0)
    for i, (kind, name, reason, type_, at) in enumerate(
        [
            ("Rollout", "llm", timeline.ROLLOUT_STEP_COMPLETED, "Normal", 30),
            ("AnalysisRun", "llm-abc-2-1", "AnalysisRunFailed", "Warning", 90),
            ("Rollout", "llm", timeline.ROLLOUT_ABORTED, "Warning", 91),
            ("Rollout", "llm", "TrafficWeightUpdated", "Normal", 92),  # not in the timeline
        ]
    ):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"ev.{i}", "namespace": "lab-x", "uid": f"r{i}", "resourceVersion": "1"},
                "involvedObject": {"kind": kind, "name": name},
                "reason": reason,
                "type": type_,
                "message": f"{reason} message",
                "lastTimestamp": stamp(at),
                "count": 1,
            }
        )
    obs.poll()
    obs.poll()  # seen once
    got = [(e.kind, e.reason, e.type, e.time_s) for e in obs.events()]
    assert got == [
        ("Rollout", timeline.ROLLOUT_STEP_COMPLETED, timeline.NORMAL, 30.0),
        ("AnalysisRun", "AnalysisRunFailed", timeline.WARNING, 90.0),
        ("Rollout", timeline.ROLLOUT_ABORTED, timeline.WARNING, 91.0),
    ]


def test_chaos_mesh_events_join_the_timeline(emulator) -> None:
    """Chaos Mesh's Events of a Schedule and the PodChaos it spawned (chaos-mesh v2.8.3
    controllers/utils/recorder: Spawned, Applied "Successfully apply chaos for NS/POD") take the
    reasons the simulator records, so a grader finds the pod kills on kind as on sim."""
    kube = client.connect("emu", timeout_s=5)
    obs = observe.Observer(kube, "lab-x", T0)
    for i, (kind, name, reason, at) in enumerate(
        [
            ("Schedule", "llm-pod-kill", timeline.SCHEDULE_SPAWNED, 300),
            ("PodChaos", "llm-pod-kill-x", timeline.CHAOS_APPLIED, 301),
            ("PodChaos", "llm-pod-kill-x", "FinalizerInited", 301),  # not in the timeline
        ]
    ):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"ch.{i}", "namespace": "lab-x", "uid": f"c{i}", "resourceVersion": "1"},
                "involvedObject": {"kind": kind, "name": name},
                "reason": reason,
                "type": "Normal",
                "message": f"{reason} message",
                "lastTimestamp": stamp(at),
                "count": 1,
            }
        )
    obs.poll()
    got = [(e.kind, e.reason, e.time_s) for e in obs.events()]
    assert got == [
        ("Schedule", timeline.SCHEDULE_SPAWNED, 300.0),
        ("PodChaos", timeline.CHAOS_APPLIED, 301.0),
    ]
