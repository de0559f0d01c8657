"""The chaos-pod-kill grader's parameters, validated against lab.yaml's ``grading.params``.

The grader asks for them as the ``params`` fixture (see slolab.catalog.graderparams).
"""

from __future__ import annotations

import pydantic

from slolab.catalog import graderparams


class Params(graderparams.Params):
    """Steady load, then the lab's chaos under that load: a node drain and scheduled pod kills."""

    profile: str = pydantic.Field(description="the scenario's traffic profile driven through the run")
    warmup_timeout_s: float = pydantic.Field(
        gt=0, description="how long the Deployment may take to serve before the load starts"
    )
    steady_s: float = pydantic.Field(gt=0, description="the steady-state window before the chaos")
    drain_timeout_s: float = pydantic.Field(
        gt=0, description="kubectl drain --timeout: how long the planned drain of one node may take"
    )
    chaos_s: float = pydantic.Field(
        gt=0, description="how long the load runs from the chaos's start (the drain, then the pod kills)"
    )
    min_requests: int = pydantic.Field(
        gt=0, description="fewest requests a window needs before its latency or failures are judged"
    )
