"""Checks of the gpu-taints lab; each judges one SLO of lab.yaml by where pods ran and what the
traffic got."""

from __future__ import annotations


def _selected(pods, selector):
    return [p for p in pods if selector and all(p.labels.get(k) == v for k, v in selector.items())]


def test_gpu_ready_s(placement, verdict, target, cluster):
    """Every replica of the model server Ready on a GPU node, each holding one GPU (an 8B model
    uses one; a second is a GPU no one else can have), by the bound."""
    deployment = cluster.get("Deployment", target.deployment)
    selector = ((deployment or {}).get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    window = placement.run
    done_s = None
    for lk in placement.looks:
        good = [p for p in _selected(lk.pods, selector) if p.ready and p.node in lk.gpu_nodes and p.gpus == 1]
        if len(good) >= placement.replicas:
            done_s = lk.t_s - window.start_s
            break
    pods = _selected(placement.looks[-1].pods, selector)
    lines = [
        f"{p.name}: {'on ' + p.node if p.node else 'not scheduled'}, {p.phase}, "
        f"{'Ready' if p.ready else 'not Ready'}, asks for {p.gpus:g} GPU"
        for p in pods
    ]
    for p in pods:
        if p.name in placement.failed_scheduling:
            lines.append(f"{p.name} FailedScheduling: {placement.failed_scheduling[p.name]}")
    last = placement.looks[-1]
    lines.append(
        "GPU nodes' allocatable nvidia.com/gpu: "
        + ", ".join(f"{n} {v if v is not None else 'none'}" for n, v in sorted(last.allocatable_gpus.items()))
    )
    if done_s is None:
        run_s = window.end_s - window.start_s
        lines.insert(
            0,
            f"never all {placement.replicas} replicas Ready on a GPU node with one GPU each "
            f"in the {run_s:.0f} s run",
        )
        done_s = run_s
    else:
        lines.insert(
            0, f"all {placement.replicas} replicas Ready on a GPU node with one GPU each at {done_s:.0f} s"
        )
    verdict("gpu_ready_s", round(done_s, 1), window=window, evidence=lines)


def test_gpu_squatters(placement, verdict):
    """No pod without a GPU request on a GPU node, at any look (DaemonSet node agents excepted)."""
    found = placement.squatters()
    lines = [
        f"{name}: on GPU node {node} from {t_s:.0f} s, asks for no GPU" for name, (t_s, node) in found.items()
    ]
    verdict(
        "gpu_squatters",
        len(found),
        window=placement.run,
        evidence=lines or ["no pod without a GPU on a GPU node"],
    )


def test_pending_pods(placement, verdict):
    """No pod Pending at any look from the bound to the end of the run."""
    found = placement.pending_after_bound()
    lines = placement.where(found)
    verdict("pending_pods", len(found), window=placement.after, evidence=lines or ["no pod Pending"])


def test_slow_or_failed_pct(placement, verdict, params):
    """At most the SLO's share of requests failed or waited longer than ttft_slo_s for a first token."""
    log = verdict.require_load(placement.log, window=placement.load, min_requests=params.min_requests)
    slow = [r for r in log.ok() if r.ttft_s is not None and r.ttft_s > params.ttft_slo_s]
    failed = log.failed()
    share = 100.0 * (len(slow) + len(failed)) / len(log)
    kinds = "; ".join(
        f"{n} × {kind}" for kind, n in sorted(log.errors_by_kind().items(), key=lambda kv: -kv[1])[:3]
    )
    p99 = log.ttft_quantile_s(0.99)
    lines = [
        f"{len(failed)} failed, {len(slow)} slower than {params.ttft_slo_s:g} s to first token, "
        f"of {len(log)} requests",
        f"p99 TTFT of the successful ones: {p99 * 1000:.0f} ms"
        if p99 is not None
        else "no request succeeded",
    ]
    if kinds:
        lines.append(f"failures: {kinds}")
    verdict("slow_or_failed_pct", round(share, 2), window=placement.load, evidence=lines)
