"""The canary-rollout grader's parameters, validated against lab.yaml's ``grading.params``.

The grader asks for them as the ``params`` fixture (see slolab.catalog.graderparams).
"""

from __future__ import annotations

import pydantic

from slolab.catalog import graderparams


class Params(graderparams.Params):
    """Two rollouts of the Rollout under steady traffic: a regressed image, then a healthy one."""

    profile: str = pydantic.Field(description="the scenario's traffic profile, constant")
    warmup_timeout_s: float = pydantic.Field(gt=0, description="how long the Rollout may take to serve first")
    baseline_s: float = pydantic.Field(
        ge=0, description="load on the running version before the first rollout (the stable's metrics)"
    )
    container: str = pydantic.Field(description="the model-server container of the Rollout's pod template")
    bad_image: str = pydantic.Field(description="the regressed version the first rollout ships")
    good_image: str = pydantic.Field(description="the healthy version the second rollout ships")
    bad_follow_s: float = pydantic.Field(
        gt=0,
        description="how long the first rollout is followed at most (until aborted and back, or promoted)",
    )
    good_follow_s: float = pydantic.Field(
        gt=0, description="how long the second rollout may take to be promoted"
    )
    every_s: float = pydantic.Field(
        gt=0, le=15, description="how often the Rollout and its pods are looked at"
    )
    availability_objective: float = pydantic.Field(
        gt=0, lt=1, description="the share of requests that must succeed (the error budget is the rest)"
    )
    budget_window_s: float = pydantic.Field(
        gt=0,
        description="the error budget's period: budget = (1 - objective) x requests the profile sends in it",
    )
    min_requests: int = pydantic.Field(gt=0, description="fewest requests a window needs before it is judged")
