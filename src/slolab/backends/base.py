"""The one interface every backend offers to graders (the ``lab`` fixture).

Graders are written as a procedure in time: wait for the Deployment, start load, sleep, restart
the rollout, wait for it, stop load, then judge. On ``sim`` every wait advances virtual time; on
a real cluster it is a real wait. Objects are API-shaped dicts, as ``kubectl get -o json`` prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import yamlfile
from slolab.load import requestlog
from slolab.run import request as request_mod
from slolab.run import timeline

#: One line of the timeline (slolab.run.timeline, shared by every backend).
Event = timeline.Event


class Clock(Protocol):
    def now_s(self) -> float:
        """Seconds since the run started (virtual on sim)."""

    def sleep(self, seconds: float) -> None:
        """Let the cluster and the load run for ``seconds``."""


class Drain(Protocol):
    """A ``kubectl drain`` under way (sim/drain.py on sim, kube/drain.py on a live cluster)."""

    @property
    def node(self) -> str: ...

    @property
    def finished_s(self) -> float | None:
        """When it ended (run seconds), or None while it runs."""

    @property
    def done(self) -> bool:
        """It ended with every pod evicted and gone."""

    @property
    def error(self) -> str | None:
        """Why it failed ("drain did not complete within 600s"), or None."""

    @property
    def output(self) -> list[str]:
        """What kubectl drain printed."""


class Cluster(Protocol):
    namespace: str

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """One object as an API-shaped dict, or None."""

    def list(
        self, kind: str, namespace: str | None = None, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Objects of ``kind`` (Pod, Deployment, ReplicaSet, Service, Node, …) matching ``labels``."""

    def rollout_restart(self, kind: str, name: str, namespace: str | None = None) -> None:
        """What ``kubectl rollout restart`` does: stamp the pod template with restartedAt."""

    def set_image(
        self, kind: str, name: str, container: str, image: str, namespace: str | None = None
    ) -> None:
        """What ``kubectl argo rollouts set image`` (``kubectl set image`` for a Deployment) does:
        the named container's image in the pod template of a Rollout or Deployment."""

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, poll_s: float = 1.0) -> bool:
        """Let time pass until ``condition()`` holds; False when ``timeout_s`` passed first."""

    def apply(self, docs: list[yamlfile.Document]) -> None:
        """``kubectl apply`` in the lab's namespace of manifests that belong to the lab's run (its
        chaos), not to the learner's workspace."""

    def delete(self, docs: list[yamlfile.Document]) -> None:
        """``kubectl delete`` of what ``apply`` applied (the lab's chaos, once its run is over)."""

    def drain(self, node: str, timeout_s: float | None = None) -> Drain:
        """Start ``kubectl drain NODE --ignore-daemonsets --delete-emptydir-data [--timeout]``: cordon,
        then evict each pod through the Eviction API, retrying every 5 s while a budget forbids
        it. It runs while time passes; the timeline records it (Drain, Evicted, Drained)."""

    def uncordon(self, node: str) -> None:
        """``kubectl uncordon NODE``."""


class LoadHandle(Protocol):
    profile: str


class Load(Protocol):
    def start(self, profile: str) -> LoadHandle:
        """Start open-loop traffic of the scenario's ``profile`` in the background."""

    def stop(self, handle: LoadHandle, drain_s: float | None = None) -> requestlog.RequestLog:
        """Stop new arrivals, wait up to ``drain_s`` (default: the profile's client timeout) for
        requests in flight, return the log."""

    def so_far(self, handle: LoadHandle) -> list[request_mod.Request]:
        """The requests of ``handle`` that finished so far, times on the backend's clock, while
        the load goes on (a game day's stop condition reads them)."""

    def run(self, profile: str, duration_s: float) -> requestlog.RequestLog:
        """start, sleep ``duration_s``, stop."""


class Prom(Protocol):
    """PromQL over the run's metrics, returning what prometheus-api-client's ``custom_query`` and
    ``custom_query_range`` return (the ``data.result`` list of the Prometheus HTTP API). Times are
    run seconds (``clock.now_s()``) on every backend, in the arguments and in the results; a
    backend on a real Prometheus converts to and from unix time (PromQL's ``time()`` and ``@``
    still see the server's own clock)."""

    def query(self, expr: str, at_s: float | None = None) -> list[dict[str, Any]]:
        """An instant query at ``at_s`` (default: now): ``[{"metric": {...}, "value": [t_s, "v"]}]``."""

    def query_range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[dict[str, Any]]:
        """A range query: ``[{"metric": {...}, "values": [[t_s, "v"], ...]}, ...]``."""


class Backend(Protocol):
    name: str
    lab: lab_mod.Lab
    scenario: scenario_mod.Scenario
    seed: int
    clock: Clock
    cluster: Cluster
    load: Load
    prom: Prom

    @property
    def events(self) -> list[Event]:
        """The timeline so far, in time order."""

    def series(self) -> dict[str, list[tuple[float, float]]]:
        """Step series for the report plot, e.g. ``ready_pods``, ``pods``: (time_s, value)."""

    def logs(self) -> list[requestlog.RequestLog]:
        """Every request log a ``load.stop`` returned, in order."""

    def close(self) -> None:
        """Release what the backend holds."""


def poll_until(clock: Clock, condition: Callable[[], bool], timeout_s: float, poll_s: float = 1.0) -> bool:
    """``Cluster.wait_for`` on any clock: check, sleep ``poll_s``, until true or ``timeout_s``."""
    deadline = clock.now_s() + timeout_s
    while True:
        if condition():
            return True
        now = clock.now_s()
        if now >= deadline:
            return False
        clock.sleep(min(poll_s, deadline - now))


def open_backend(
    name: str,
    lab: lab_mod.Lab,
    workspace: Any,
    seed: int,
    *,
    context: str | None = None,
    in_cluster: bool = False,
    namespace: str | None = None,
) -> Backend:
    """The backend called ``name`` for ``lab``: ``sim`` runs the manifests in ``workspace``;
    ``kind`` and ``cluster`` grade the live namespace ``lab-<name>`` through ``context`` (or the
    in-cluster service account)."""
    if name == "sim":
        from slolab.backends import sim

        return sim.SimBackend(lab, workspace, seed)
    if name in ("kind", "cluster"):
        from slolab.backends import choose, kube

        if name == "kind" and context is None and not in_cluster:
            context = choose.KIND_CONTEXT
        return kube.KubeBackend(
            name, lab, workspace, seed, context=context, in_cluster=in_cluster, namespace=namespace
        )
    from slolab import errors

    raise errors.BackendError(f"unknown backend {name!r}", "Use BACKEND=sim, kind or cluster.")


def shift(result: list[dict[str, Any]], by_s: float) -> list[dict[str, Any]]:
    """The same series with every sample's timestamp moved by ``by_s``."""
    out = []
    for series in result:
        moved = dict(series)
        if "value" in series:
            t, v = series["value"]
            moved["value"] = [float(t) + by_s, v]
        if "values" in series:
            moved["values"] = [[float(t) + by_s, v] for t, v in series["values"]]
        out.append(moved)
    return out
