"""What ``kubectl argo rollouts get rollout`` shows, from API-shaped objects of any backend.

Upstream: argoproj/argo-rollouts v1.9.1 pkg/kubectl-argo-rollouts/cmd/get/get_rollout.go
(PrintRollout: Name, Namespace, Status with its icon, Message, Strategy, and for a canary Step,
SetWeight and ActualWeight, Images tagged canary/stable, Replicas; then the tree of ReplicaSets
and AnalysisRuns by revision) and info/rollout_info.go (NewRolloutInfo: Step is
``currentStepIndex/len(steps)``; SetWeight the weight of the last setWeight step reached, 0 when
aborted, 100 past the last step (GetCurrentSetWeight); without a traffic router ActualWeight is
the canary ReplicaSet's available pods times 100 over the Rollout's available pods;
rolloutIcon). Left out: colours, pods in the tree, experiments, blue-green.
"""

from __future__ import annotations

from typing import Any

HASH_LABEL = "rollouts-pod-template-hash"
REVISION = "rollout.argoproj.io/revision"
ICONS = {
    "Progressing": "◌",
    "Error": "⚠",
    "InvalidSpec": "⚠",
    "Paused": "॥",
    "Healthy": "✔",
    "Degraded": "✖",
    "Unknown": "?",
    "ScaledDown": "•",
    "Successful": "✔",
    "Failed": "✖",
    "Running": "◌",
    "Inconclusive": "⚠",
    "Pending": "◌",
}


def _line(label: str, value: Any) -> str:
    return f"{label:<17}{value}"  # get.go tableFormat "%-17s%v"


def set_weight(rollout: dict[str, Any]) -> int:
    """GetCurrentSetWeight."""
    status = rollout.get("status") or {}
    if status.get("abort"):
        return 0
    steps = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary", {}).get("steps") or []
    index = status.get("currentStepIndex") or 0
    if index >= len(steps):
        return 100
    return next((int(s["setWeight"]) for s in reversed(steps[: index + 1]) if "setWeight" in s), 0)


def get_rollout(
    rollout: dict[str, Any], replicasets: list[dict[str, Any]], runs: list[dict[str, Any]]
) -> list[str]:
    """The lines ``kubectl argo rollouts get rollout <name>`` prints (no colours, no pods)."""
    meta, spec, status = rollout["metadata"], rollout.get("spec") or {}, rollout.get("status") or {}
    phase = status.get("phase", "Unknown")
    steps = ((spec.get("strategy") or {}).get("canary") or {}).get("steps") or []
    current, stable = status.get("currentPodHash", ""), status.get("stableRS", "")
    owned = [rs for rs in replicasets if rs["metadata"].get("labels", {}).get(HASH_LABEL)]
    canary = next(
        (rs for rs in owned if rs["metadata"]["labels"][HASH_LABEL] == current and current != stable), None
    )
    available = int(status.get("availableReplicas") or 0)
    index = status.get("currentStepIndex")
    if index is not None and index >= len(steps):
        actual = 100
    elif canary is not None and available:
        actual = int((canary.get("status") or {}).get("availableReplicas") or 0) * 100 // available
    else:
        actual = 0
    out = [
        _line("Name:", meta["name"]),
        _line("Namespace:", meta.get("namespace", "")),
        _line("Status:", f"{ICONS.get(phase, ' ')} {phase}"),
    ]
    if status.get("message"):
        out.append(_line("Message:", status["message"]))
    out.append(_line("Strategy:", "Canary"))
    if index is not None and steps:
        out.append(_line("  Step:", f"{index}/{len(steps)}"))
    out += [_line("  SetWeight:", set_weight(rollout)), _line("  ActualWeight:", actual)]
    images: dict[str, list[str]] = {}
    for rs in owned:
        h = rs["metadata"]["labels"][HASH_LABEL]
        if not int((rs.get("spec") or {}).get("replicas") or 0):
            continue
        tag = "stable" if h == stable else "canary" if h == current else ""
        for c in rs["spec"]["template"]["spec"]["containers"]:
            images.setdefault(c["image"], []).extend([tag] if tag else [])
    for i, (image, tags) in enumerate(sorted(images.items())):
        out.append(
            _line("Images:" if i == 0 else "", f"{image} ({', '.join(sorted(set(tags)))})" if tags else image)
        )
    out += [
        "Replicas:",
        _line("  Desired:", spec.get("replicas", 1)),
        _line("  Current:", status.get("replicas", 0)),
        _line("  Updated:", status.get("updatedReplicas", 0)),
        _line("  Ready:", status.get("readyReplicas", 0)),
        _line("  Available:", available),
        "",
        _row("NAME", "KIND", "STATUS", "INFO"),
        _row(f"⟳ {meta['name']}", "Rollout", f"{ICONS.get(phase, ' ')} {phase}", ""),
    ]
    revisions = sorted(
        {int(o["metadata"].get("annotations", {}).get(REVISION, 0)) for o in [*owned, *runs]}, reverse=True
    )
    for r, revision in enumerate(revisions):
        last_rev = r == len(revisions) - 1
        out.append(f"{'└' if last_rev else '├'}──# revision:{revision}")
        items = [
            o
            for o in [*owned, *runs]
            if int(o["metadata"].get("annotations", {}).get(REVISION, 0)) == revision
        ]
        for i, o in enumerate(items):
            branch = ("   " if last_rev else "│  ") + ("└──" if i == len(items) - 1 else "├──")
            name, kind, state, info = _item(o, stable, current)
            out.append(_row(branch + name, kind, state, info))
    return out


def _row(name: str, kind: str, state: str, info: str) -> str:
    """One line of the tree, in tabwriter-like columns."""
    return f"{name:<40}{kind:<13}{state:<16}{info}".rstrip()


def _item(obj: dict[str, Any], stable: str, current: str) -> tuple[str, str, str, str]:
    name, st = obj["metadata"]["name"], obj.get("status") or {}
    if obj.get("kind") == "AnalysisRun":
        phase = st.get("phase", "Pending")
        results = st.get("metricResults") or []
        ok = sum(int(m.get("successful") or 0) for m in results)
        bad = sum(int(m.get("failed") or 0) + int(m.get("error") or 0) for m in results)
        return f"α {name}", "AnalysisRun", f"{ICONS.get(phase, ' ')} {phase}", f"✔ {ok},✖ {bad}"
    h = obj["metadata"]["labels"][HASH_LABEL]
    replicas = int((obj.get("spec") or {}).get("replicas") or 0)
    state = "Healthy" if replicas and int(st.get("availableReplicas") or 0) == replicas else "ScaledDown"
    if replicas and state != "Healthy":
        state = "Progressing"
    tag = "stable" if h == stable else "canary" if h == current else ""
    return f"⧉ {name}", "ReplicaSet", f"{ICONS[state]} {state}", tag
