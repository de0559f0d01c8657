"""The HPA's normalisation of a proposal: stabilization windows, scaling policies, min and max.

Upstream: kubernetes v1.35 pkg/controller/podautoscaler/horizontal.go
(``stabilizeRecommendation``, ``normalizeDesiredReplicas``, ``convertDesiredReplicasWithRules``,
``calculateScaleUpLimit``: the path of an HPA without ``spec.behavior``;
``normalizeDesiredReplicasWithBehaviors``, ``stabilizeRecommendationWithBehaviors``,
``convertDesiredReplicasWithBehaviorRate``, ``calculateScaleUpLimitWithScalingRules``,
``calculateScaleDownLimitWithBehaviors``, ``getReplicasChangePerPeriod``, ``storeScaleEvent``,
``markScaleEventsOutdated``: the path with it) and pkg/apis/autoscaling/v2/defaults.go
(``GenerateHPAScaleUpRules``: stabilization 0 s, selectPolicy Max, policies 4 Pods and 100
Percent per 15 s; ``GenerateHPAScaleDownRules``: selectPolicy Max, 100 Percent per 15 s, the
window left to the controller's ``--horizontal-pod-autoscaler-downscale-stabilization``, 5 min).

Without ``spec.behavior`` upstream keeps the older rules: the highest recommendation of the
last 5 min (scale-down stabilization only) and at most ``max(2 × current, 4)`` per sync. With
it, recommendations are stabilized between the lowest of the scale-up window and the highest
of the scale-down window, then the policies limit the change against the replicas at the
start of each policy's period (the scale events of that period are remembered), and
``selectPolicy`` picks the largest change (Max), the smallest (Min) or none (Disabled).
Time comparisons are strict, as ``time.After`` / ``time.Before`` are: a recommendation exactly
one window old has left the window.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

DOWNSCALE_STABILIZATION_S = 300.0
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0

#: upstream's AbleToScale messages
SCALE_UP_STABILIZED = (
    "recent recommendations were lower than current one, applying the lowest recent recommendation"
)
SCALE_DOWN_STABILIZED = (
    "recent recommendations were higher than current one, applying the highest recent recommendation"
)

SCALE_UP_DEFAULTS: dict[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
SCALE_DOWN_DEFAULTS: dict[str, Any] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def defaulted_rules(rules: dict[str, Any] | None, defaults: dict[str, Any]) -> dict[str, Any]:
    """``copyHPAScalingRules``: the given fields over the defaults."""
    out = copy.deepcopy(defaults)
    for key, value in (rules or {}).items():
        if value is not None:
            out[key] = copy.deepcopy(value)
    return out


def defaulted_behavior(behavior: dict[str, Any] | None) -> dict[str, Any] | None:
    """``SetDefaults_HorizontalPodAutoscalerBehavior``: only a behavior that is set is filled in."""
    if behavior is None:
        return None
    return {
        "scaleUp": defaulted_rules(behavior.get("scaleUp"), SCALE_UP_DEFAULTS),
        "scaleDown": defaulted_rules(behavior.get("scaleDown"), SCALE_DOWN_DEFAULTS),
    }


@dataclasses.dataclass
class ScaleEvent:
    replica_change: int
    timestamp_s: float
    outdated: bool = False


@dataclasses.dataclass
class Limited:
    """A normalised proposal with the AbleToScale and ScalingLimited (reason, message) it sets."""

    replicas: int
    able_to_scale: tuple[str, str]
    scaling_limited: tuple[bool, str, str]


@dataclasses.dataclass
class State:
    """What the controller remembers of one HPA between syncs (lost when it is deleted)."""

    recommendations: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    scale_up_events: list[ScaleEvent] = dataclasses.field(default_factory=list)
    scale_down_events: list[ScaleEvent] = dataclasses.field(default_factory=list)

    def record_initial(self, current: int, now_s: float) -> None:
        """``recordInitialRecommendation``."""
        if not self.recommendations:
            self.recommendations = [(current, now_s)]

    # ---- without spec.behavior ----------------------------------------------------------------
    def normalize(
        self, current: int, desired: int, min_replicas: int, max_replicas: int, now_s: float
    ) -> Limited:
        """``normalizeDesiredReplicas``."""
        stabilized = self._stabilize(desired, now_s)
        able = (
            (
                "ScaleDownStabilized",
                SCALE_DOWN_STABILIZED,
            )
            if stabilized != desired
            else ("ReadyForNewScale", "recommended size matches current size")
        )
        replicas, reason, message = _with_rules(current, stabilized, min_replicas, max_replicas)
        return Limited(replicas, able, (replicas != stabilized, reason, message))

    def _stabilize(self, desired: int, now_s: float) -> int:
        """``stabilizeRecommendation``: the highest recommendation of the downscale window."""
        cutoff = now_s - DOWNSCALE_STABILIZATION_S
        highest, old_index = desired, None
        for i, (replicas, t) in enumerate(self.recommendations):
            if t < cutoff:
                old_index = i
            elif replicas > highest:
                highest = replicas
        if old_index is not None:
            self.recommendations[old_index] = (desired, now_s)
        else:
            self.recommendations.append((desired, now_s))
        return highest

    # ---- with spec.behavior -------------------------------------------------------------------
    def normalize_with_behaviors(
        self,
        behavior: dict[str, Any],
        current: int,
        desired: int,
        min_replicas: int,
        max_replicas: int,
        now_s: float,
    ) -> Limited:
        """``normalizeDesiredReplicasWithBehaviors``; ``behavior`` already defaulted."""
        up, down = behavior["scaleUp"], dict(behavior["scaleDown"])
        if down.get("stabilizationWindowSeconds") is None:  # maybeInitScaleDownStabilizationWindow
            down["stabilizationWindowSeconds"] = int(DOWNSCALE_STABILIZATION_S)
        stabilized, reason, message = self._stabilize_with_behaviors(up, down, current, desired, now_s)
        able = (
            (reason, message)
            if stabilized != desired
            else ("ReadyForNewScale", "recommended size matches current size")
        )
        replicas, reason, message = self._rate(
            up, down, current, stabilized, min_replicas, max_replicas, now_s
        )
        return Limited(replicas, able, (replicas != stabilized, reason, message))

    def _stabilize_with_behaviors(
        self, up: dict[str, Any], down: dict[str, Any], current: int, desired: int, now_s: float
    ) -> tuple[int, str, str]:
        up_cutoff = now_s - float(up["stabilizationWindowSeconds"])
        down_cutoff = now_s - float(down["stabilizationWindowSeconds"])
        up_rec = down_rec = desired
        old_index = None
        for i, (replicas, t) in enumerate(self.recommendations):
            if t > up_cutoff:
                up_rec = min(up_rec, replicas)
            if t > down_cutoff:
                down_rec = max(down_rec, replicas)
            if t < up_cutoff and t < down_cutoff:
                old_index = i
        recommendation = current
        if recommendation < up_rec:
            recommendation = up_rec
        if recommendation > down_rec:
            recommendation = down_rec
        if old_index is not None:
            self.recommendations[old_index] = (desired, now_s)
        else:
            self.recommendations.append((desired, now_s))
        if desired >= current:
            return (
                recommendation,
                "ScaleUpStabilized",
                SCALE_UP_STABILIZED,
            )
        return (
            recommendation,
            "ScaleDownStabilized",
            SCALE_DOWN_STABILIZED,
        )

    def _rate(
        self,
        up: dict[str, Any],
        down: dict[str, Any],
        current: int,
        desired: int,
        min_replicas: int,
        max_replicas: int,
        now_s: float,
    ) -> tuple[int, str, str]:
        """``convertDesiredReplicasWithBehaviorRate``."""
        if desired > current:
            limit = max(current, _scale_up_limit(current, self.scale_up_events, up, now_s))
            allowed = max_replicas
            if allowed > limit:
                allowed = limit
                reason, message = (
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                )
            else:
                reason, message = (
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            if desired > allowed:
                return allowed, reason, message
        elif desired < current:
            limit = min(current, _scale_down_limit(current, self.scale_down_events, down, now_s))
            allowed = min_replicas
            if allowed < limit:
                allowed = limit
                reason, message = (
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                )
            else:
                reason, message = (
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            if desired < allowed:
                return allowed, reason, message
        return desired, "DesiredWithinRange", "the desired count is within the acceptable range"

    def store_scale_event(
        self, behavior: dict[str, Any] | None, previous: int, new: int, now_s: float
    ) -> None:
        """``storeScaleEvent``: remember a rescale for the policies' periods (only with a behavior)."""
        if behavior is None:
            return
        if new > previous:
            events, rules, change = self.scale_up_events, behavior["scaleUp"], new - previous
        else:
            events, rules, change = self.scale_down_events, behavior["scaleDown"], previous - new
        longest = max((int(p["periodSeconds"]) for p in rules.get("policies") or []), default=0)
        old_index = None
        for i, event in enumerate(events):
            if event.timestamp_s < now_s - longest:
                event.outdated = True
            if event.outdated:
                old_index = i
        if old_index is not None:
            events[old_index] = ScaleEvent(change, now_s)
        else:
            events.append(ScaleEvent(change, now_s))


def _with_rules(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithRules``: min, max and ``max(2 × current, 4)``."""
    scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if max_replicas > scale_up_limit:
        allowed = scale_up_limit
        reason, message = (
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    else:
        allowed = max_replicas
        reason, message = (
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    if desired < min_replicas:
        return (
            min_replicas,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        )
    if desired > allowed:
        return allowed, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def _change_in_period(period_s: float, events: list[ScaleEvent], now_s: float) -> int:
    """``getReplicasChangePerPeriod``."""
    cutoff = now_s - period_s
    return sum(e.replica_change for e in events if e.timestamp_s > cutoff)


def _scale_up_limit(current: int, events: list[ScaleEvent], rules: dict[str, Any], now_s: float) -> int:
    """``calculateScaleUpLimitWithScalingRules``."""
    select = rules.get("selectPolicy", "Max")
    if select == "Disabled":
        return current
    pick = min if select == "Min" else max
    result: int | None = None
    for policy in rules.get("policies") or []:
        start = current - _change_in_period(float(policy["periodSeconds"]), events, now_s)
        if policy["type"] == "Pods":
            proposed = start + int(policy["value"])
        else:
            proposed = math.ceil(start * (1 + int(policy["value"]) / 100))
        result = proposed if result is None else pick(result, proposed)
    return -(2**31) if result is None and select != "Min" else (2**31 - 1 if result is None else result)


def _scale_down_limit(current: int, events: list[ScaleEvent], rules: dict[str, Any], now_s: float) -> int:
    """``calculateScaleDownLimitWithBehaviors``."""
    select = rules.get("selectPolicy", "Max")
    if select == "Disabled":
        return current
    pick = max if select == "Min" else min
    result: int | None = None
    for policy in rules.get("policies") or []:
        start = current + _change_in_period(float(policy["periodSeconds"]), events, now_s)
        if policy["type"] == "Pods":
            proposed = start - int(policy["value"])
        else:
            proposed = int(start * (1 - int(policy["value"]) / 100))
        result = proposed if result is None else pick(result, proposed)
    return 2**31 - 1 if result is None and select != "Min" else (-(2**31) if result is None else result)
