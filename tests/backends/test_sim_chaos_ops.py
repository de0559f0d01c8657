"""The sim backend's operations for a lab's chaos: ``cluster.apply`` of manifests that are part of
the run, ``cluster.drain`` (kubectl drain, running while time passes) and ``cluster.uncordon``,
each marked on the timeline as the grader's action (on the chaos-pod-kill reference solution)."""

from __future__ import annotations

from slolab.backends import sim
from slolab.catalog import lab as lab_mod
from slolab.catalog import yamlfile
from slolab.run import timeline
from slolab.workspace import variants


def test_apply_drain_and_uncordon(tmp_path, helm) -> None:
    lab = lab_mod.load("chaos-pod-kill")
    ws = tmp_path / lab.name
    variants.write(variants.solution_files(lab), ws)
    backend = sim.SimBackend(lab, ws, seed=lab.seeds[0])
    backend.clock.sleep(150)
    (schedule,) = yamlfile.load_all(lab.directory / "chaos" / "schedule.yaml")
    backend.cluster.apply([schedule])
    assert [s["metadata"]["name"] for s in backend.cluster.list("Schedule")] == ["llm-pod-kill"]
    node = "slolab-worker2"
    drain = backend.cluster.drain(node, timeout_s=600)
    backend.clock.sleep(1)
    assert backend.cluster.get("Node", node)["spec"]["unschedulable"] is True
    assert backend.cluster.wait_for(lambda: drain.finished_s is not None, timeout_s=600)
    assert drain.done and drain.output[-1] == f"node/{node} drained"
    pods = backend.cluster.list("Pod")
    assert all(p["spec"].get("nodeName") != node for p in pods if not p["metadata"].get("deletionTimestamp"))
    backend.cluster.uncordon(node)
    assert backend.cluster.get("Node", node)["spec"]["unschedulable"] is False
    grader = [(e.reason, e.name) for e in backend.events if e.kind == timeline.GRADER_KIND]
    assert grader == [(timeline.APPLIED, "llm-pod-kill"), (timeline.DRAIN_STARTED, node)]
