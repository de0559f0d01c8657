"""Checks of the keda-scaling lab; each judges one SLO of lab.yaml by what happened under the curve."""

from __future__ import annotations

from slolab.grading import replicatrace
from slolab.load import requestlog


def _ttft_s(r, timeout_s: float) -> float:
    """A request's TTFT (one cut after its first token keeps it); one that never got a first
    token counts as the client's timeout: it was not served within it. The time it waited
    before it failed would be no measure: a fleet that refuses every request at once (no pod
    left) would look fast."""
    if r.ttft_s is not None:
        return r.ttft_s
    return timeout_s


def test_ttft_p99_s(autoscale, verdict, params, slo):
    """p99 TTFT over the ramp and the plateau, after the allowance for one cold start."""
    window = autoscale.peak
    part = verdict.require_load(
        autoscale.log, window=window, min_requests=params.min_requests, expected=autoscale.expected(window)
    )
    target_s = slo["ttft_p99_s"].target
    timeout_s = autoscale.profile.timeout_s
    ttfts = sorted(_ttft_s(r, timeout_s) for r in part)
    p99 = requestlog.quantile(ttfts, 0.99)
    if p99 is None:
        verdict.inconclusive("ttft_p99_s", "no request arrived in the window", window=window)
    never = sum(1 for r in part if r.ttft_s is None)
    looks = autoscale.trace.between(window.start_s, window.end_s)
    evidence = [
        f"{len(part)} requests: p50 {requestlog.quantile(ttfts, 0.5):.2f} s, p99 {p99:.2f} s, "
        f"max {ttfts[-1]:.1f} s; {sum(1 for t in ttfts if t > target_s)} over {target_s:g} s",
        f"{never} without a first token (each counted as the client's {timeout_s:g} s timeout)"
        if never
        else "",
        f"Deployment {autoscale.trace.deployment}: {replicatrace.summary(looks)}",
        *replicatrace.signal_summary(looks),
    ]
    verdict("ttft_p99_s", round(p99, 3), window=window, evidence=evidence)


def test_failed_requests(autoscale, verdict, params):
    """No request fails, over the whole curve."""
    window = autoscale.load
    part = verdict.require_load(
        autoscale.log, window=window, min_requests=params.min_requests, expected=autoscale.expected(window)
    )
    failed = part.failed()
    kinds = "; ".join(
        f"{n} × {kind}" for kind, n in sorted(part.errors_by_kind().items(), key=lambda kv: -kv[1])[:3]
    )
    evidence = f"{len(failed)} of {len(part)} requests failed" + (f": {kinds}" if kinds else "")
    if failed:
        evidence += f"\nfirst failure at {failed[0].arrival_s:.0f} s, last at {failed[-1].arrival_s:.0f} s"
    verdict("failed_requests", len(failed), window=window, evidence=evidence)


def test_scale_down_s(autoscale, verdict, params, slo):
    """After the drop, the Deployment is back at the base rate's replicas within the bound."""
    window = autoscale.after
    verdict.require_load(
        autoscale.log, window=window, min_requests=params.min_requests, expected=autoscale.expected(window)
    )
    bound_s = slo["scale_down_s"].target
    if window.duration_s <= bound_s:
        verdict.inconclusive(
            "scale_down_s",
            f"the load ran only {window.duration_s:.0f} s after the drop, not longer than the "
            f"{bound_s:g} s bound: lengthen grading.params.load_s",
            window=window,
        )
    base = params.base_replicas
    settled = autoscale.trace.settled_s(base, window.start_s, window.end_s)
    looks = autoscale.trace.between(window.start_s, window.end_s)
    first, last = looks[0], looks[-1]
    evidence = [
        f"at the drop's end: {first.desired} desired, {first.pods} pods; at the end: "
        f"{last.desired} desired, {last.pods} pods",
        f"Deployment {autoscale.trace.deployment} after the drop: {replicatrace.summary(looks)}",
    ]
    if settled is None:
        evidence.insert(
            0,
            f"not back to {base} replica(s) by the end of the run ({window.duration_s:.0f} s after the drop)",
        )
        observed = window.duration_s
    else:
        evidence.insert(
            0, f"back to {base} replica(s) {settled - window.start_s:.0f} s after the drop and stayed there"
        )
        observed = settled - window.start_s
    verdict("scale_down_s", round(observed, 1), window=window, evidence=evidence)


def test_gpu_minutes(autoscale, verdict, params):
    """GPU-minutes the Deployment's pods held over the whole load, against the budget."""
    window = autoscale.load
    verdict.require_load(
        autoscale.log, window=window, min_requests=params.min_requests, expected=autoscale.expected(window)
    )
    trace = autoscale.trace
    minutes = trace.gpu_seconds(window.start_s, window.end_s) / 60.0
    looks = trace.between(window.start_s, window.end_s)
    floor = params.base_replicas * window.duration_s / 60.0
    evidence = [
        f"{minutes:.1f} GPU-minutes over {window.duration_s / 60:.1f} min of load "
        f"({floor:.1f} at a constant {params.base_replicas} replica(s))",
        f"Deployment {trace.deployment}: {replicatrace.summary(looks)}",
    ]
    verdict("gpu_minutes", round(minutes, 1), window=window, evidence=evidence)


def test_scale_direction_changes(autoscale, verdict, params):
    """The replica count turns around (up after down, down after up) at most the bound."""
    window = autoscale.load
    verdict.require_load(
        autoscale.log, window=window, min_requests=params.min_requests, expected=autoscale.expected(window)
    )
    turns, changes = autoscale.trace.direction_changes(window.start_s, window.end_s)
    shown = ", ".join(map(str, changes[:12])) + (" ..." if len(changes) > 12 else "")
    evidence = [
        f"{len(changes)} changes of spec.replicas, {turns} of them turning around",
        f"changes: {shown}" if changes else "spec.replicas never changed",
    ]
    verdict("scale_direction_changes", turns, window=window, evidence=evidence)
