"""The readiness-probes grading run: steady load, then a rolling restart under that load.

1. wait until the target Deployment serves (``wait_serving``, up to warmup_timeout_s);
2. start the scenario's `chat` profile and let it run steady_s (the steady-state window);
3. `kubectl rollout restart` under that load; wait until it serves again (up to
   rollout_timeout_s); keep the load on tail_s more (the update window);
4. stop the load and let requests in flight finish.

Built on the grader kit (slolab.grading.fixtures); the parameters are grader/params.py's.
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


@pytest.fixture(scope="session")
def rollout(lab, params, target, wait_serving, load_session) -> RolloutRun:
    """Steady load on a serving Deployment, then `kubectl rollout restart` under that load."""
    warmed = wait_serving(params.warmup_timeout_s)
    with load_session(params.profile) as load:
        steady = load.hold("steady state", params.steady_s)
        with load.window("rolling update"):
            lab.cluster.rollout_restart("Deployment", target.deployment)
            rolled = wait_serving(params.rollout_timeout_s)
            lab.clock.sleep(params.tail_s)
    update = load.windows["rolling update"]
    pods = podtimes.collect(lab.events)
    new = [p.name for p in pods.values() if p.created_s is not None and p.created_s >= update.start_s]
    return RolloutRun(
        log=load.log,
        steady=steady,
        update=update,
        run=requestlog.Window("whole run", 0.0, lab.clock.now_s()),
        warmed_up=bool(warmed),
        rolled_out=bool(rolled),
        new_pods=new,
        pods=pods,
        nominal_load_s=lab.scenario.model.load_time_s.typical(),
    )
