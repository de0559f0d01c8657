"""What a simulated controller declares, and the API the cluster gives it.

A controller module defines one ``Controller`` subclass that declares
- ``owns``: the kinds it is responsible for (``Kind``: apiVersion, kind, the manifest fields it
  models and those it accepts as inert, whether ``kubectl apply`` may create it, whether it has
  the scale subresource); the registry builds the allowed-field check, ``apply`` and the API
  view from these declarations;
- ``pod_fields`` / ``pod_inert``: fields of a pod spec it models (kubelet, scheduler), which
  every kind with a pod template accepts;
- ``watches``: the kinds whose changes wake it;
- ``resync_s``: None for a watch-driven controller (reconciles when a watched object changes or
  a requeue it asked for comes due, as an informer plus workqueue does), or the period of a
  periodic controller (the HPA's 15 s sync loop, KEDA's pollingInterval).
Reconciles run in the control loop at the instant of the change, in registry order, until no
controller is queued: the watch latencies of a real cluster (milliseconds) are taken as zero.
A controller that must see a change at once (endpoints, the kubelet) overrides ``on_event``.

A new kind is one module plus its line in ``registry.CONTROLLERS``, e.g. an autoscaler::

    HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")
    KIND = controller.Kind(*HPA, new=lambda meta, spec: store.Generic(*HPA, meta, spec),
                           fields=(*controller.META_FIELDS, "spec.scaleTargetRef.*", "spec.maxReplicas"))

    class Controller(controller.Controller):
        name, owns, resync_s = "horizontal-pod-autoscaler", (KIND,), 15.0

        def reconcile(self) -> bool:
            for hpa in self.api.store.list(*HPA):
                ...  # observe, decide, then self.api.store.scale(target, replicas)
            return True
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from slolab import errors
from slolab.catalog import yamlfile
from slolab.run import timeline
from slolab.sim import store

if TYPE_CHECKING:
    import simpy

    from slolab.catalog import scenario as scenario_mod
    from slolab.sim import metricsapi, objects, serverargs

#: In a Kind's fields, ``<prefix>.@pod`` stands for every pod spec field the registry models.
POD_SPEC = "@pod"

META_FIELDS = (
    "apiVersion",
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.labels.*",
    "metadata.annotations.*",
)


@dataclasses.dataclass(frozen=True)
class Kind:
    """One API kind a controller owns.

    ``new`` builds the stored object from an applied manifest's metadata and spec; a kind without
    it (ReplicaSet, Pod, Endpoints) is made only by controllers and cannot be applied.
    ``validate`` adds value checks the field list cannot express (errors name file, line, field).
    ``admit`` is a validating admission webhook (KEDA's for ScaledObjects).
    """

    api_version: str
    kind: str
    fields: tuple[str, ...] = ()
    inert: tuple[str, ...] = ()
    namespaced: bool = True
    scale: bool = False
    pod_template: tuple[str, ...] | None = None  # path of a pod template in the manifest
    new: Callable[[store.Meta, dict[str, Any]], Any] | None = None
    validate: Callable[[yamlfile.Document], list[errors.Problem]] | None = None
    #: an admission webhook: checks against what is stored (earlier documents of the same apply
    #: included, as kubectl applies them in order); its problems deny that document
    admit: Callable[[store.Store, str, yamlfile.Document], list[errors.Problem]] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.api_version, self.kind)


class API(Protocol):
    """What a controller may use: the store, time, events, queues, random streams."""

    env: simpy.Environment
    store: store.Store
    scenario: scenario_mod.Scenario
    namespace: str
    recorder: timeline.Recorder
    metrics: metricsapi.MetricsAPIs  # the aggregated metrics APIs controllers register and use
    controllers: list[Controller]  # every controller, in registry order (chaos reaches the kubelets)

    @property
    def now_s(self) -> float: ...

    def prom_query(self, expr: str) -> list[dict[str, Any]]:
        """An instant PromQL query at now over the lab Prometheus's TSDB (sim/scrape.py), in
        prometheus-api-client's ``custom_query`` shape. Raises promql errors as the HTTP API's 400."""
        ...

    def rng(self, stream: str) -> random.Random:
        """A named random stream of this run (seeded from the run's seed and the name)."""
        ...

    def record(
        self, kind: str, name: str, reason: str, message: str = "", type: str = timeline.NORMAL, **data: Any
    ) -> None: ...

    def enqueue(self, controller: Controller) -> None:
        """Queue ``controller`` for a reconcile at the current instant."""
        ...

    def requeue_at(self, controller: Controller, time_s: float) -> None:
        """Queue ``controller`` at ``time_s`` (workqueue AddAfter)."""
        ...

    def server_config(self, pod: objects.Pod, c: objects.Container) -> serverargs.ServerConfig: ...

    def model_load_time(self, config: serverargs.ServerConfig, rng: random.Random) -> float: ...


class Controller:
    """Base of every simulated controller; subclasses set the class attributes and ``reconcile``."""

    name: ClassVar[str] = ""
    owns: ClassVar[tuple[Kind, ...]] = ()
    watches: ClassVar[tuple[tuple[str, str], ...]] = ()
    resync_s: ClassVar[float | None] = None
    pod_fields: ClassVar[tuple[str, ...]] = ()
    pod_inert: ClassVar[tuple[str, ...]] = ()

    def __init__(self, api: API) -> None:
        self.api = api
        self.queued = True  # every controller syncs once at start (informers list first)

    def on_event(self, event: store.WatchEvent) -> None:
        """A watched object changed: queue a reconcile (override to react at once)."""
        self.api.enqueue(self)

    def reconcile(self) -> bool:
        """One pass over what it owns. True when it changed anything."""
        return False

    @classmethod
    def check_pod_spec(
        cls, doc: yamlfile.Document, path: tuple[str | int, ...], scenario: scenario_mod.Scenario
    ) -> list[errors.Problem]:
        """Value checks on a pod spec at ``path`` of ``doc`` (server arguments, hooks)."""
        return []


def labels_selected(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector with matchLabels only (matchExpressions are refused when applied)."""
    return all(labels.get(k) == str(v) for k, v in (selector.get("matchLabels") or {}).items())
