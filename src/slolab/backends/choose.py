"""Which backend a command runs on, and why (``BACKEND=auto|sim|kind|cluster``).

DESIGN.md §1: ``auto`` picks ``kind`` when slolab's own kind cluster exists and answers, and
``sim`` otherwise, and says which and why. It never picks another kubeconfig context by itself:
that could be someone's production cluster. ``cluster`` must be asked for and names its
context; it refuses to run unless ``KUBE_CONTEXT`` names that context.

Kind's kubeconfig context for a cluster called ``slolab`` is ``kind-slolab``
(https://kind.sigs.k8s.io/docs/user/quick-start/#interacting-with-your-cluster).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess

from slolab import errors

BACKENDS = ("auto", "sim", "kind", "cluster")
KIND_CLUSTER = "slolab"
KIND_CONTEXT = f"kind-{KIND_CLUSTER}"
PROBE_TIMEOUT_S = 3.0


@dataclasses.dataclass(frozen=True)
class Choice:
    """The backend to use, the kubeconfig context for kind/cluster, and the reason shown."""

    backend: str
    context: str | None
    reason: str

    def line(self) -> str:
        where = f" (context {self.context})" if self.context else ""
        return f"BACKEND={self.backend}{where}: {self.reason}"


def kind_clusters() -> list[str] | None:
    """``kind get clusters``; None when kind is not installed."""
    kind = shutil.which("kind")
    if kind is None:
        return None
    try:
        proc = subprocess.run([kind, "get", "clusters"], capture_output=True, text=True, timeout=30)
    except (subprocess.TimeoutExpired, OSError):  # e.g. a container runtime that hangs
        return []
    return [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()] if proc.returncode == 0 else []


def contexts() -> list[str]:
    """Context names of the kubeconfig (``$KUBECONFIG`` or ~/.kube/config); empty when none."""
    from kubernetes import config

    try:
        all_contexts, _ = config.list_kube_config_contexts()
    except (config.ConfigException, FileNotFoundError, OSError):
        return []
    return [c["name"] for c in all_contexts]


def probe(context: str) -> str | None:
    """None when the API server of ``context`` answers GET /version; else why not."""
    from slolab.kube import client

    try:
        client.connect(context, timeout_s=PROBE_TIMEOUT_S).version()
    except errors.BackendError as exc:
        return exc.args[0] if exc.args else str(exc)
    return None


def choose(requested: str, kube_context: str | None = None) -> Choice:
    """The backend for ``requested`` (one of BACKENDS); BackendError when it cannot be used."""
    if requested not in BACKENDS:
        raise errors.InputError(
            errors.Problem("BACKEND", f"expected one of {', '.join(BACKENDS)} (got {requested!r})")
        )
    if requested == "sim":
        return Choice("sim", None, "the embedded simulator, as asked")
    if requested == "cluster":
        return _cluster(kube_context if kube_context is not None else os.environ.get("KUBE_CONTEXT"))
    clusters = kind_clusters()
    if clusters is None:
        why = "kind is not installed (see `make doctor`)"
    elif KIND_CLUSTER not in clusters:
        why = f"no kind cluster named {KIND_CLUSTER!r} (create it with `make cluster`)"
    else:
        trouble = probe(KIND_CONTEXT)
        if trouble is None:
            return Choice("kind", KIND_CONTEXT, f"slolab's kind cluster {KIND_CLUSTER!r} answers")
        why = f"kind cluster {KIND_CLUSTER!r} exists but does not answer: {trouble}"
    if requested == "kind":
        raise errors.BackendError(f"BACKEND=kind cannot be used: {why}.", "Run `make doctor`.")
    return Choice("sim", None, f"{why}; the simulator needs no cluster")


def _cluster(kube_context: str | None) -> Choice:
    known = contexts()
    listing = ", ".join(known) if known else "none in your kubeconfig"
    if not kube_context:
        raise errors.BackendError(
            "BACKEND=cluster needs the kubeconfig context named explicitly; slolab never uses your "
            "current context by itself.",
            f"Run with KUBE_CONTEXT=<context> (contexts: {listing}).",
        )
    if kube_context not in known:
        raise errors.BackendError(
            f"KUBE_CONTEXT={kube_context!r} is not a context of your kubeconfig.",
            f"Contexts: {listing}.",
        )
    trouble = probe(kube_context)
    if trouble is not None:
        raise errors.BackendError(
            f"context {kube_context!r} does not answer: {trouble}",
            "Check `kubectl --context " + kube_context + " version`, or run `make doctor`.",
        )
    return Choice("cluster", kube_context, "the kubeconfig context named by KUBE_CONTEXT")
