"""Checks of the readiness-probes lab; each judges one SLO of lab.yaml by what happened."""

from __future__ import annotations


def test_failed_requests(rollout, verdict, params):
    """No request fails from the restart until every new pod serves (+ tail)."""
    log = rollout.log.window(rollout.update)
    verdict.require_load(log, window=rollout.update, min_requests=params.min_requests)
    failed = log.failed()
    kinds = "; ".join(
        f"{n} × {kind}" for kind, n in sorted(log.errors_by_kind().items(), key=lambda kv: -kv[1])[:3]
    )
    evidence = f"{len(failed)} of {len(log)} requests failed" + (f": {kinds}" if kinds else "")
    if failed:
        evidence += f"\nfirst failure at {failed[0].arrival_s:.0f} s, last at {failed[-1].arrival_s:.0f} s"
    verdict("failed_requests", len(failed), window=rollout.update, evidence=evidence)


def test_container_restarts(rollout, verdict):
    """No container restarts, at any time of the run."""
    started = [p for p in rollout.pods.values() if p.starts]
    if not started:
        verdict.inconclusive("container_restarts", "no container ever started", window=rollout.run)
    restarts = sum(p.restarts for p in started)
    worst = sorted((p for p in started if p.restarts), key=lambda p: -p.restarts)[:3]
    lines = [f"{p.name}: {p.restarts} restarts; {p.kills[0] if p.kills else ''}" for p in worst]
    verdict("container_restarts", restarts, window=rollout.run, evidence="\n".join(lines))


def test_ready_after_load_s(rollout, verdict):
    """Every new pod becomes Ready (and serving) within its model-load time + the SLO's slack."""
    if not rollout.new_pods:
        verdict.inconclusive(
            "ready_after_load_s", "the rolling update created no pods", window=rollout.update
        )
    worst_s, lines = float("-inf"), []
    for name in rollout.new_pods:
        p = rollout.pods[name]
        load_s = p.load_s[0] if p.load_s else rollout.nominal_load_s
        if p.serving_ready_s is None:
            excess = rollout.update.end_s - p.created_s - load_s
            lines.append(f"{name}: never Ready while serving ({p.restarts} restarts)")
        else:
            excess = p.serving_ready_s - p.created_s - load_s
            early = " (Ready before its model loaded)" if p.ready_before_loaded_s is not None else ""
            lines.append(
                f"{name}: Ready {p.serving_ready_s - p.created_s:.0f} s after creation, "
                f"model load {load_s:.0f} s{early}"
            )
        worst_s = max(worst_s, excess)
    verdict("ready_after_load_s", round(worst_s, 1), window=rollout.update, evidence="\n".join(lines))


def test_ttft_p99_ratio(rollout, verdict, params):
    """p99 TTFT while pods are replaced stays within the SLO's factor of steady state."""
    minimum = params.min_requests
    steady = rollout.log.window(rollout.steady)
    update = rollout.log.window(rollout.update)
    verdict.require_load(steady, window=rollout.steady, min_requests=minimum)
    verdict.require_load(update, window=rollout.update, min_requests=minimum)
    p99_steady = steady.ttft_quantile_s(0.99)
    p99_update = update.ttft_quantile_s(0.99)
    if p99_steady is None or p99_update is None:
        verdict.inconclusive(
            "ttft_p99_ratio",
            "no successful request to measure TTFT in "
            + ("the steady window" if p99_steady is None else "the update window"),
            window=rollout.update,
        )
    evidence = (
        f"p99 TTFT {p99_update * 1000:.0f} ms during the update ({len(update.ttfts_s())} requests) vs "
        f"{p99_steady * 1000:.0f} ms steady ({len(steady.ttfts_s())} requests)"
    )
    verdict("ttft_p99_ratio", round(p99_update / p99_steady, 2), window=rollout.update, evidence=evidence)
