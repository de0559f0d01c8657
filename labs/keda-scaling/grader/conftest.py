"""The keda-scaling grading run: the scenario's rate curve, with the Deployment watched throughout.

1. wait until the target Deployment serves (``wait_serving``, up to warmup_timeout_s);
2. drive the profile's rate curve (base, ramp to about three times the base, plateau, drop,
   back at base) for load_s, looking at the Deployment's replicas and pods every every_s
   (``replicatrace``: desired, pods, ready, GPUs held);
3. stop the load and let requests in flight finish.

The windows come from the curve itself (``ratecurve.phases``), in run seconds: the ramp and
the plateau, judged from cold_start_allowance_s after the ramp starts; the time after the drop;
the whole load. Whoever scales the Deployment (an HPA on CPU, KEDA, a person) is judged by
what happened to the Deployment and to the requests, never by its YAML.

Built on the grader kit (slolab.grading); the parameters are grader/params.py's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from slolab.grading import ratecurve, replicatrace
from slolab.load import requestlog


@dataclasses.dataclass
class AutoscaleRun:
    log: requestlog.RequestLog
    profile: Any  # the scenario's TrafficProfile
    started_s: float
    load: requestlog.Window  # the whole load
    peak: requestlog.Window  # ramp and plateau, after the cold-start allowance
    after: requestlog.Window  # from the end of the drop until the load stopped
    trace: replicatrace.Trace
    warmed_up: bool

    def expected(self, window: requestlog.Window) -> float:
        """Mean arrivals the rate curve sends in ``window``."""
        return ratecurve.expected_requests(self.profile, window, self.started_s)


@pytest.fixture(scope="session")
def autoscale(lab, params, target, wait_serving, load_session) -> AutoscaleRun:
    """The rate curve driven once through a serving Deployment, with its replicas traced."""
    profile = lab.scenario.profile(params.profile)
    if profile.duration_s is not None and params.load_s > profile.duration_s:
        raise ValueError(
            f"grading.params.load_s ({params.load_s:g} s) is longer than profile {params.profile}'s "
            f"duration_s ({profile.duration_s:g} s): the load would stop before the grader does. "
            "Lower load_s in lab.yaml."
        )
    phases = ratecurve.phases(profile)
    judged = ratecurve.span(phases, ratecurve.RAMP, ratecurve.PLATEAU)
    after = ratecurve.find(phases, ratecurve.AFTER)
    warmed = wait_serving(params.warmup_timeout_s)
    trace = replicatrace.Trace(target.deployment)
    with load_session(params.profile) as load, load.window("load"):
        trace.follow(lab, params.load_s, params.every_s)
    whole = load.windows["load"]
    started, stopped = whole.start_s, whole.end_s
    peak = ratecurve.at(judged, started, stopped, "ramp and plateau")
    judged_from_s = min(peak.start_s + params.cold_start_allowance_s, peak.end_s)
    peak = requestlog.Window(peak.name, judged_from_s, peak.end_s)
    return AutoscaleRun(
        log=load.log,
        profile=profile,
        started_s=started,
        load=requestlog.Window("whole load", started, stopped),
        peak=peak,
        after=ratecurve.at(after, started, stopped, "after the drop"),
        trace=trace,
        warmed_up=bool(warmed),
    )
