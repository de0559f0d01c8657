"""The readiness-probes grading run: steady load, then a rolling restart under that load.

1. wait until the Deployment has rolled out and every pod serves (up to warmup_timeout_s);
2. start the scenario's `chat` profile and let it run steady_s (the steady-state window);
3. `kubectl rollout restart` under that load; wait until the rollout is complete and every
   new pod serves (up to rollout_timeout_s); keep the load on tail_s more (the update window);
4. stop the load and let requests in flight finish.
"""

from __future__ import annotations

import dataclasses

import pytest

from slolab.grading import podtimes
from slolab.load import requestlog


@dataclasses.dataclass
class RolloutRun:
    log: requestlog.RequestLog
    steady: requestlog.Window
    update: requestlog.Window
    run: requestlog.Window
    warmed_up: bool
    rolled_out: bool
    new_pods: list[str]
    pods: dict[str, podtimes.PodTimes]
    nominal_load_s: float


def _serving(lab, deployment: str, since_s: float = 0.0) -> bool:
    """The rollout is complete and every current pod serves (Ready with its model loaded)."""
    d = lab.cluster.get("Deployment", deployment)
    if d is None:
        return False
    st, spec = d["status"], d["spec"]
    want = spec.get("replicas", 1)
    complete = (
        d["status"].get("observedGeneration", 0) >= d["metadata"]["generation"]
        and st.get("updatedReplicas") == want
        and st.get("availableReplicas") == want
        and st.get("replicas") == want
    )
    if not complete:
        return False
    times = podtimes.collect(lab.events)
    # the Deployment's pods only (in a cluster the namespace also holds e.g. the grading Job's pod)
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    pods = [p for p in lab.cluster.list("Pod", labels=selector) if not p["metadata"].get("deletionTimestamp")]
    return all(
        times.get(p["metadata"]["name"]) is not None
        and times[p["metadata"]["name"]].serving_ready_s is not None
        for p in pods
    )


@pytest.fixture(scope="session")
def rollout(lab) -> RolloutRun:
    """Steady load on a serving Deployment, then `kubectl rollout restart` under that load."""
    g = lab.lab.grading.params
    name = lab.lab.grading.target.deployment
    warmed = lab.cluster.wait_for(lambda: _serving(lab, name), timeout_s=g.warmup_timeout_s)
    handle = lab.load.start(g.profile)
    t_steady = lab.clock.now_s()
    lab.clock.sleep(g.steady_s)
    t_update = lab.clock.now_s()
    lab.cluster.rollout_restart("Deployment", name)
    rolled = lab.cluster.wait_for(lambda: _serving(lab, name), timeout_s=g.rollout_timeout_s)
    lab.clock.sleep(g.tail_s)
    t_end = lab.clock.now_s()
    log = lab.load.stop(handle)
    pods = podtimes.collect(lab.events)
    new = [p.name for p in pods.values() if p.created_s is not None and p.created_s >= t_update]
    return RolloutRun(
        log=log,
        steady=requestlog.Window("steady state", t_steady, t_update),
        update=requestlog.Window("rolling update", t_update, t_end),
        run=requestlog.Window("whole run", 0.0, lab.clock.now_s()),
        warmed_up=warmed,
        rolled_out=rolled,
        new_pods=new,
        pods=pods,
        nominal_load_s=lab.scenario.model.load_time_s.typical(),
    )
