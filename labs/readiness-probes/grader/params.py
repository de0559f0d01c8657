"""The readiness-probes grader's parameters, validated against lab.yaml's ``grading.params``.

The grader asks for them as the ``params`` fixture (see slolab.catalog.graderparams).
"""

from __future__ import annotations

import pydantic

from slolab.catalog import graderparams


class Params(graderparams.Params):
    """Steady load, then a rolling restart under that load, each phase with its deadline."""

    profile: str = pydantic.Field(description="the scenario's traffic profile driven through the run")
    warmup_timeout_s: float = pydantic.Field(
        gt=0, description="how long the Deployment may take to serve before the load starts"
    )
    steady_s: float = pydantic.Field(gt=0, description="the steady-state window before the restart")
    rollout_timeout_s: float = pydantic.Field(
        gt=0, description="how long the rolling update may take until every new pod serves"
    )
    tail_s: float = pydantic.Field(ge=0, description="load kept on after the rollout, inside its window")
    min_requests: int = pydantic.Field(
        gt=0, description="fewest requests a window needs before its latency or failures are judged"
    )
