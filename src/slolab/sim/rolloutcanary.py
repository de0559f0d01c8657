"""The basic canary's replica arithmetic: setWeight as the ratio of canary to stable pods.

Upstream: argoproj/argo-rollouts v1.9.1 utils/replicaset/canary.go:
CalculateReplicaCountsForBasicCanary (the closest canary/stable split to the weight, stable
scaled up before the canary within maxSurge, then scaled down within maxUnavailable, older
ReplicaSets first), approximateWeightedCanaryStableReplicaCounts (a weight of 1-99 never rounds
to 0 canary or 0 stable pods when there are 2 or more; with maxSurge the total may be
spec.replicas + 1 when that is closer), floorCeilingTied, weightDelta,
calculateScaleDownReplicaCount, adjustReplicaWithinLimits, GetReplicasForScaleDown and
AtDesiredReplicaCountsForCanary; utils/replicaset/replicaset.go MaxSurge/MaxUnavailable
(percentages of spec.replicas: surge rounded up, unavailable down; both 0 makes unavailable 1).
The docs' example (docs/features/canary/index.md): 10 replicas at setWeight 10 run 1 canary
and 9 stable pods.
"""

from __future__ import annotations

import dataclasses
import math

from slolab.sim import deployment


@dataclasses.dataclass(frozen=True)
class RS:
    """What the arithmetic reads of a ReplicaSet: spec.replicas and status.availableReplicas."""

    replicas: int
    available: int


def fenceposts(replicas: int, max_surge: int | str, max_unavailable: int | str) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against spec.replicas."""
    surge = deployment.scaled_value(max_surge, replicas, True, "25%")
    unavailable = deployment.scaled_value(max_unavailable, replicas, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def _tied(weight: int, replicas: int) -> bool:
    return math.modf(replicas * (weight / 100))[0] == 0.5


def _delta(weight: int, canary: int, total: int) -> float:
    return abs(canary * 100 / total - weight)


def approximate(replicas: int, weight: int, max_surge: int) -> tuple[int, int]:
    """approximateWeightedCanaryStableReplicaCounts: (canary, stable)."""
    if replicas == 0:
        return 0, 0
    ceil_c = math.ceil(replicas * weight / 100)
    floor_c = math.floor(replicas * weight / 100)
    zero_allowed = weight in (0, 100) or (replicas == 1 and max_surge == 0)
    options: list[tuple[int, int]] = []
    if ceil_c < replicas or zero_allowed:
        options.append((ceil_c, replicas))
    if not _tied(weight, replicas) and (floor_c != 0 or zero_allowed):
        options.append((floor_c, replicas))
    if max_surge > 0:
        options.append((ceil_c, replicas + 1))
        if not _tied(weight, replicas + 1) and (floor_c != 0 or zero_allowed):
            options.append((floor_c, replicas + 1))
    if not options:
        return 0, replicas
    best = options[0]
    for option in options[1:]:
        if _delta(weight, *option) < _delta(weight, *best):
            best = option
    return best[0], best[1] - best[0]


def _for_scale_down(rs: RS | None, ignore_availability: bool) -> int:
    if rs is None:
        return 0
    if rs.replicas < rs.available or ignore_availability:
        return rs.replicas
    return rs.available


def _adjust(
    drain: RS | None, adjust: RS | None, drain_n: int, adjust_n: int, max_total: int, min_available: int
) -> tuple[int, int]:
    """adjustReplicaWithinLimits: (drain count, adjust count)."""
    over = max(0, adjust_n + drain_n - max_total)
    total_available = min(drain.available, drain_n) if drain is not None else 0
    if adjust is not None:
        adjust_n -= over
        total_available += min(adjust.available, adjust_n)
        extra = max(0, adjust.available - adjust_n)
        need = max(0, min_available - total_available)
        adjust_n += min(extra, need)
        over = max(0, adjust_n + drain_n - max_total)
        drain_n -= over
    return drain_n, adjust_n


def basic_canary(
    replicas: int,
    weight: int,
    new: RS | None,
    stable: RS | None,
    others: list[RS],
    max_surge: int | str,
    max_unavailable: int | str,
) -> tuple[int, int]:
    """CalculateReplicaCountsForBasicCanary: (new ReplicaSet's replicas, stable's replicas).

    ``stable`` is None when there is no stable ReplicaSet or it is the new one: the new one
    then goes to 100%."""
    surge, unavailable = fenceposts(replicas, max_surge, max_unavailable)
    want_new, want_stable = approximate(replicas, weight, surge)
    new_n = new.replicas if new is not None else 0
    stable_n = 0
    if stable is not None:
        stable_n = stable.replicas
    else:
        want_new, want_stable = replicas, 0
    max_total = replicas + surge
    current = sum(rs.replicas for rs in others) + new_n + (stable.replicas if stable is not None else 0)
    scale_up = max_total - current
    if stable is not None and stable.replicas < want_stable and scale_up > 0:
        if stable.replicas + scale_up < want_stable:
            stable_n, scale_up = stable.replicas + scale_up, 0
        else:
            scale_up -= want_stable - stable.replicas
            stable_n = want_stable
    if new is not None and new.replicas < want_new and scale_up > 0:
        new_n = min(new.replicas + scale_up, want_new)
    if sum(rs.replicas for rs in others) > 0:
        return new_n, stable_n  # older ReplicaSets are scaled down first
    min_available = replicas - unavailable
    increasing = new is None or want_new >= new.replicas
    to_scale_down = _for_scale_down(new, not increasing) + _for_scale_down(stable, increasing)
    if to_scale_down <= min_available:
        return new_n, stable_n
    scale_down = to_scale_down - min_available
    if not increasing:
        if new is not None and new.replicas > want_new:
            new_n = max(want_new, new.replicas - scale_down)
        new_n, stable_n = _adjust(new, stable, new_n, stable_n, max_total, min_available)
    elif stable is not None:
        if stable.replicas > want_stable:
            stable_n = max(want_stable, stable.replicas - scale_down)
        stable_n, new_n = _adjust(stable, new, stable_n, new_n, max_total, min_available)
    return new_n, stable_n


def at_desired(
    replicas: int,
    weight: int,
    new: RS | None,
    stable: RS | None,
    others: list[RS],
    max_surge: int | str,
    max_unavailable: int | str,
    stable_pods: int,
) -> bool:
    """AtDesiredReplicaCountsForCanary without traffic routing: the new ReplicaSet has all the
    pods the weight asks for available, the stable one all its pods created (``stable_pods``:
    its status.replicas), and no older ReplicaSet has an available pod."""
    want_new, want_stable = basic_canary(replicas, weight, new, stable, others, max_surge, max_unavailable)
    if new is None or not (new.replicas == want_new and new.available == want_new):
        return False
    if stable is not None and not (stable.replicas == want_stable and stable_pods == want_stable):
        return False
    return sum(rs.available for rs in others) == 0
