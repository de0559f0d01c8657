"""Checks of the chaos-pod-kill lab; each judges one SLO of lab.yaml by what happened."""

from __future__ import annotations


def test_failed_pct(chaos_run, verdict, params):
    """The share of requests that failed over the whole load: the error budget burned."""
    log = verdict.require_load(chaos_run.log, window=chaos_run.run, min_requests=params.min_requests)
    failed = log.failed()
    kinds = "; ".join(
        f"{n} × {kind}" for kind, n in sorted(log.errors_by_kind().items(), key=lambda kv: -kv[1])[:3]
    )
    evidence = [f"{len(failed)} of {len(log)} requests failed" + (f": {kinds}" if kinds else "")]
    evidence.append(
        f"Chaos Mesh killed a pod at {', '.join(f'{t:.0f} s' for t in chaos_run.kills) or 'no time'}"
    )
    share = 100.0 * len(failed) / len(log)
    verdict("failed_pct", round(share, 2), window=chaos_run.run, evidence=evidence)


def test_drain_cut_no_stream(chaos_run, verdict, params):
    """No request in flight on a pod the drain evicted was cut: the drain is planned."""
    if chaos_run.drain_node is None:
        verdict.inconclusive(
            "drain_streams_cut",
            "no node ran the model pods: nothing to drain",
            window=chaos_run.drain_recovery,
        )
    drained = set(chaos_run.drained_pods)
    window = chaos_run.drain_recovery
    cut = [
        r
        for r in chaos_run.log
        if r.pod in drained
        and not r.ok
        and r.status is not None
        and window.start_s <= (r.finish_s if r.finish_s is not None else r.arrival_s) <= window.end_s
        and "stream cut" in (r.error or "")
    ]
    evidence = [f"kubectl drain {chaos_run.drain_node}: evicted {', '.join(sorted(drained)) or 'no pod'}"]
    if cut:
        evidence.append(f"{len(cut)} streams cut, e.g. request {cut[0].id}: {cut[0].error}")
    verdict("drain_streams_cut", len(cut), window=window, evidence=evidence)


def test_ttft_p99_s(chaos_run, verdict, params):
    """p99 time to first token while pods are killed and a node is drained."""
    log = verdict.require_load(chaos_run.log, window=chaos_run.chaos, min_requests=params.min_requests)
    p99 = log.ttft_quantile_s(0.99)
    if p99 is None:
        verdict.inconclusive("ttft_p99_s", "no request succeeded to measure TTFT", window=chaos_run.chaos)
    evidence = f"p99 TTFT {p99:.2f} s over {len(log.ttfts_s())} successful requests"
    verdict("ttft_p99_s", round(p99, 2), window=chaos_run.chaos, evidence=evidence)


def test_drain_capacity_pct(chaos_run, verdict):
    """The drain completed, and the pods serving stayed above the floor until its pods were replaced."""
    window = chaos_run.drain_recovery
    steps = chaos_run.capacity
    before = [n for t, n in steps if t < window.start_s]
    at_start = before[-1] if before else 0
    if not at_start:
        verdict.inconclusive("drain_capacity_pct", "no pod served when the drain began", window=window)
    lowest = at_start
    for t, n in steps:
        if window.start_s <= t < window.end_s:
            lowest = min(lowest, n)
    evidence = [f"pods serving: {at_start} when the drain began, {lowest} at the fewest"]
    evidence += chaos_run.drain_output[-3:]
    if not chaos_run.drain_done:
        evidence.insert(0, f"the drain of {chaos_run.drain_node} did not complete")
        verdict("drain_capacity_pct", 0, window=window, evidence=evidence)
    verdict("drain_capacity_pct", round(100.0 * lowest / at_start, 1), window=window, evidence=evidence)
