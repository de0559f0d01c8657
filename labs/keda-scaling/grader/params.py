"""The keda-scaling grader's parameters, validated against lab.yaml's ``grading.params``.

The grader asks for them as the ``params`` fixture (see slolab.catalog.graderparams).
"""

from __future__ import annotations

import pydantic

from slolab.catalog import graderparams


class Params(graderparams.Params):
    """One run of the scenario's rate curve (base, ramp, plateau, drop, back at base), watched."""

    profile: str = pydantic.Field(description="the scenario's traffic profile, a rate curve")
    warmup_timeout_s: float = pydantic.Field(
        gt=0, description="how long the Deployment may take to serve before the load starts"
    )
    load_s: float = pydantic.Field(
        gt=0, description="how long the load runs: the whole curve and the time after its drop"
    )
    every_s: float = pydantic.Field(
        gt=0, le=15, description="how often the Deployment's replicas and pods are looked at"
    )
    cold_start_allowance_s: float = pydantic.Field(
        ge=0, description="from the ramp's start, the time one cold start may take before TTFT is judged"
    )
    base_replicas: int = pydantic.Field(
        ge=1, description="replicas the base rate needs: the count to come back to after the drop"
    )
    min_requests: int = pydantic.Field(gt=0, description="fewest requests a window needs before it is judged")
