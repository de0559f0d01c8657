"""A Kubernetes API server for tests: kmock 0.8's KubernetesEmulator on 127.0.0.1 (the operator's
tests and the kind/cluster backend's).

It runs in a thread with its own event loop, so that kopf (in KopfRunner's thread), helm (a
subprocess) and the test (plain sync code) can all talk to it at once; a server on the test's
own loop starves whenever the test blocks (research/tooling-loopback.md §1, gotcha 6).

Resource discovery for ``labs.slolab.dev`` comes from the CRD file in charts/slolab-operator/crds/;
the built-in kinds from kmock's bundled K3s snapshot.

kmock is a database over HTTP, and real kubectl/helm need more of an API server than kopf does.
What this module adds (fixes 1-2 are reactions, 3-5 patches of kmock's request parsing that
:func:`patched` applies for the duration of a test, 6-9 the :class:`Emulator` subclass; each was
found by running helm 4.1.4 or kopf 1.45 against it, and the request that failed is named). They
use kmock 0.8 internals (``_objects``, ``_lock``, ``_buses``, name-mangled helpers), which is why
pyproject pins kmock below 0.9:

1. ``GET /version`` says 1.36 (kmock says 1.26.4, and charts/llm-serving needs >= 1.29);
2. ``GET /api/v1`` lists ``groupVersion: v1``: kmock says ``/v1``, so client-go's RESTMapper finds no
   core kinds ("no matches for kind Service in version v1");
3. ``/api/v1/namespaces[/<name>]`` is the namespaces resource: kmock reads ``namespaces`` as the
   namespace prefix and answers 500 (``not enough values to unpack``; gotcha 2);
4. request bodies in ``application/vnd.kubernetes.protobuf`` are decoded: client-go 1.35's typed
   clients (helm's release storage) send Secrets, and DeleteOptions when deleting them, as protobuf,
   and kmock fails with UnicodeDecodeError. :func:`decode_protobuf` reads the runtime.Unknown
   envelope and the fields helm uses (k8s.io/api core/v1 generated.proto, k8s.io/apimachinery
   runtime/generated.proto and pkg/apis/meta/v1/generated.proto);
5. ``PUT`` of a named object is an update (kmock guesses no action for PUT: helm's release Secret update);
6. server-side apply (``PATCH`` with ``application/apply-patch+yaml``) of an object that is not there
   creates it, as the API server does (helm 4 installs with server-side apply);
7. every write gets a new ``resourceVersion`` (and a create a ``uid`` and ``creationTimestamp``):
   kmock keeps what the client sent, so kopf cannot tell a stale watch event from the answer to
   its own patch and runs handlers that already finished again (gotcha 3 of the research note
   is the other side of the same thing);
8. a JSON patch that does not apply (kopf's ``test`` of the resourceVersion it last saw) is 422
   Invalid, as from the API server, not 500: kopf waits for a fresher event on 422 and gives up
   after nine tries on 500;
9. lists carry a resourceVersion and a watch from it sends only later changes, none lost, none
   twice: kmock's list says ``...``, and its watch replays every object as ADDED before it
   subscribes to its event bus, so kopf handled each object twice (once from the list, once
   stale from the replay) and a write in between the two never;
10. ``POST pods/<name>/eviction`` is the policy/v1 Eviction subresource (kmock reads it as a
    create of the pod and answers 409): :func:`eviction_refusal` decides, from the budgets' spec
    and the pods' Ready condition, and an evicted pod is deleted gracefully: it gets a
    deletionTimestamp and stays Terminating until its kubelet, here the test, deletes it (a
    DELETE then removes it: kmock collects a marked object that has no finalizers). See
    :func:`eviction_refusal` for what it follows upstream.

Not emulated, so the tests tell helm to skip it: ``/openapi/v2`` and ``/openapi/v3`` (helm's client-side
validation: "failed to download openapi"). kmock also ignores label selectors (every list is filtered
again by the operator), does no optimistic concurrency (409 on a stale resourceVersion) and no
garbage collection of owned objects.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime
import json
import math
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import jsonpatch
import jsonpointer
import kmock
import yaml
from kmock._internal import enums, parsing, rendering


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One request the emulator served."""

    method: str
    path: str
    params: dict[str, str]
    user_agent: str


KUBE_VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.1", "platform": "linux/amd64"}


# -- protobuf (wire format: https://protobuf.dev/programming-guides/encoding/) -----------------


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, Any]]:
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i : i + size], i + size
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not supported")
        yield number, value


def _map_entries(entries: list[bytes]) -> dict[str, bytes]:
    out = {}
    for entry in entries:
        fields = dict(_fields(entry))
        out[fields.get(1, b"").decode()] = fields.get(2, b"")
    return out


def _object_meta(buf: bytes) -> dict[str, Any]:
    names = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    meta: dict[str, Any] = {}
    labels, annotations, finalizers = [], [], []
    for number, value in _fields(buf):
        if number in names and value:
            meta[names[number]] = value.decode()
        elif number == 11:
            labels.append(value)
        elif number == 12:
            annotations.append(value)
        elif number == 14:
            finalizers.append(value.decode())
    if labels:
        meta["labels"] = {k: v.decode() for k, v in _map_entries(labels).items()}
    if annotations:
        meta["annotations"] = {k: v.decode() for k, v in _map_entries(annotations).items()}
    if finalizers:
        meta["finalizers"] = finalizers
    return meta


def decode_protobuf(body: bytes) -> dict[str, Any]:
    """A Secret, ConfigMap or DeleteOptions sent as ``application/vnd.kubernetes.protobuf``, as JSON."""
    if body[:4] != b"k8s\x00":
        raise ValueError("not a Kubernetes protobuf body (no k8s\\0 magic)")
    unknown = dict(_fields(body[4:]))
    type_meta = dict(_fields(unknown[1]))
    api_version, kind = type_meta[1].decode(), type_meta[2].decode()
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    if kind == "DeleteOptions":  # the body of helm's DELETE of a release Secret
        for number, value in _fields(unknown[2]):
            if number == 1:
                obj["gracePeriodSeconds"] = value
            elif number == 4:
                obj["propagationPolicy"] = value.decode()
        return obj
    if kind not in ("Secret", "ConfigMap"):
        raise ValueError(f"decoding {kind} from protobuf is not supported")
    data: list[bytes] = []
    for number, value in _fields(unknown[2]):
        if number == 1:
            obj["metadata"] = _object_meta(value)
        elif number == 2:
            data.append(value)
        elif number == 3 and kind == "Secret":
            obj["type"] = value.decode()
    entries = _map_entries(data)
    if kind == "Secret":
        obj["data"] = {k: base64.b64encode(v).decode() for k, v in entries.items()}
    else:
        obj["data"] = {k: v.decode() for k, v in entries.items()}
    return obj


# -- patches to kmock ------------------------------------------------------------------------


def _parse_path(original: Callable[[str], parsing.ParsedPath]) -> Callable[[str], parsing.ParsedPath]:
    def parse_path(path: str) -> parsing.ParsedPath:
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and (
            len(parts) <= 4 or parts[4] in ("status", "finalize")
        ):
            name = parts[3] if len(parts) > 3 else None
            subresource = parts[4] if len(parts) > 4 else None
            return parsing.ParsedPath("", "v1", "namespaces", None, name, subresource)
        return original(path)

    return parse_path


def _guess_k8s(original: Callable[..., Any]) -> Callable[..., Any]:
    def guess_k8s(k8s: parsing.ParsedPath, method: enums.method, query: dict[str, str]) -> Any:
        if k8s.group is not None and k8s.name is not None and method == enums.method.PUT:
            return enums.action.UPDATE
        return original(k8s, method, query)

    return guess_k8s


class _DecodedRequest:
    """An aiohttp request whose body reads as the JSON form of its protobuf body."""

    def __init__(self, raw: Any, data: dict[str, Any]) -> None:
        self._raw, self._data = raw, data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    async def read(self) -> bytes:
        return json.dumps(self._data).encode()

    async def text(self) -> str:
        return json.dumps(self._data)

    async def json(self) -> Any:
        return self._data


def _request_parse(original: Any) -> Any:
    async def _parse(cls: type, raw_request: Any, *, id: int = 0) -> Any:
        if raw_request.content_type == "application/vnd.kubernetes.protobuf":
            raw_request = _DecodedRequest(raw_request, decode_protobuf(await raw_request.read()))
        return await original(cls, raw_request, id=id)

    return classmethod(_parse)


@contextlib.contextmanager
def patched() -> Iterator[None]:
    """kmock with fixes 3-5 of the module docstring; restored on exit."""
    saved = (parsing.parse_path, parsing.guess_k8s, rendering.Request.__dict__["_parse"])
    parsing.parse_path = _parse_path(saved[0])
    parsing.guess_k8s = _guess_k8s(saved[1])
    rendering.Request._parse = _request_parse(saved[2].__func__)
    try:
        yield
    finally:
        parsing.parse_path, parsing.guess_k8s = saved[0], saved[1]
        rendering.Request._parse = saved[2]


class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator with server-side apply creating missing objects (fix 6), and with what the
    API server sets on every write (fix 7): a new ``metadata.resourceVersion`` each time, and
    ``uid`` and ``creationTimestamp`` on create. kmock keeps resourceVersion as the client sent it;
    kopf then takes a stale watch event for the answer to its own patch (their versions are
    equal) and runs a finished handler again."""

    _revision: int = 0

    def _replace(self, request: rendering.Request, **changes: Any) -> rendering.Request:
        new = attrs.evolve(request, **changes)
        # kmock matches reactions only for requests it has recorded: swap the record.
        for i, seen in enumerate(self._requests):
            if seen is request:
                self._requests[i] = new
        return new

    async def _handle(self, request: rendering.Request) -> Any:
        if request.resource == kmock.resource("v1/pods") and request.subresource == "eviction":
            return await self._evict(request)
        if (
            request.action == enums.action.UPDATE
            and request.headers.get("Content-Type", "").startswith("application/apply-patch")
            and request.resource is not None
            and not request.subresource
        ):
            key = (request.resource, request.namespace, request.name)
            async with self._lock:
                missing = key not in self._objects or self._objects[key].deleted
            if missing:
                data = dict(request.data or {})
                metadata = {**(data.get("metadata") or {}), "name": request.name}
                if request.namespace:
                    metadata["namespace"] = request.namespace
                data["metadata"] = metadata
                request = self._replace(request, action=enums.action.CREATE, data=data)
        if request.resource is not None and request.action in (enums.action.CREATE, enums.action.UPDATE):
            Emulator._revision += 1
            version = str(Emulator._revision)
            data = request.data
            if isinstance(data, dict):
                metadata = {**(data.get("metadata") or {}), "resourceVersion": version}
                if request.action == enums.action.CREATE:
                    metadata.setdefault("uid", str(uuid.uuid4()))
                    metadata.setdefault("creationTimestamp", _now())
                request = self._replace(request, data={**data, "metadata": metadata})
            elif isinstance(data, list):  # a JSON patch
                bump = {"op": "add", "path": "/metadata/resourceVersion", "value": version}
                request = self._replace(request, data=[*data, bump])
        try:
            return await super()._handle(request)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            # The API server answers a JSON patch that does not apply (a failed ``test`` op on a
            # stale resourceVersion) with 422 Invalid; kopf waits for a fresher event on 422.
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(exc)) from None

    async def _evict(self, request: rendering.Request) -> Any:
        """The Eviction subresource (fix 10): 201 and the pod deleted, or upstream's refusal."""
        key = (request.resource, request.namespace, request.name)
        async with self._lock:
            if key not in self._objects or self._objects[key].deleted:  # kmock's array has no .get
                return _status(404, "NotFound", f'pods "{request.name}" not found')
            obj = self._objects[key]
            pods = [
                o.raw
                for (res, ns, _), o in self._objects.items()
                if res == request.resource and ns == request.namespace and not o.deleted
            ]
            budgets = [
                o.raw
                for (res, ns, _), o in self._objects.items()
                if res == kmock.resource("policy/v1/poddisruptionbudgets")
                and ns == request.namespace
                and not o.deleted
            ]
            refusal = eviction_refusal(obj.raw, pods, budgets)
            if refusal is not None:
                return refusal
            if not (obj.raw.get("metadata") or {}).get("deletionTimestamp"):
                # graceful deletion: the pod is Terminating until its kubelet (a test) deletes it
                grace = (obj.raw.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                obj.patch({"metadata": {"deletionTimestamp": _now(), "deletionGracePeriodSeconds": grace}})
                await self._buses[request.resource].put({"type": "MODIFIED", "object": obj.raw})
        return _status(201, None, None)

    async def _serve_list(self, request: rendering.Request) -> Any:
        if request.resource not in self._get_resources():
            raise kmock.KubernetesResourceNotFoundError()
        async with self._lock:
            objs = self._KubernetesEmulator__get_objs(request, strict=False)
            items = [obj.raw for obj in objs if not obj.deleted]
            version = str(Emulator._revision)
        return {"metadata": {"resourceVersion": version}, "items": items}

    async def _serve_watch(self, request: rendering.Request) -> Any:
        # Watch as the API server does (fix 9): from ``?resourceVersion=N`` only what changed
        # after N, then every later event; none lost, none twice. kmock replays every object as
        # ADDED and only then subscribes to its event bus, so kopf saw each object twice (the
        # list and the replay) and an event written in between never.
        yield b""
        assert request.resource is not None
        since = request.params.get("resourceVersion", "")
        bus = self._buses[request.resource]
        async with self._lock:
            mark = await bus.mark()
            objs = self._KubernetesEmulator__get_objs(request, strict=False)
            events = [
                {"type": "MODIFIED" if since.isdigit() else "ADDED", "object": obj.raw}
                for obj in objs
                if not obj.deleted
                and (
                    not since.isdigit()
                    or int((obj.raw.get("metadata") or {}).get("resourceVersion") or 0) > int(since)
                )
            ]
        check = self._KubernetesEmulator__check
        try:
            for event in events:
                yield event
            async for event in bus.stream(since=mark):
                metadata = (event.get("object") or {}).get("metadata") or {}
                if check(
                    request, request.resource, metadata.get("namespace"), metadata.get("name"), strict=False
                ):
                    yield event
        finally:
            await bus.unmark(mark)


def _status(code: int, reason: str | None, message: str | None, causes: list[dict] | None = None) -> Any:
    """A metav1.Status response, as the API server writes one."""
    import aiohttp.web

    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    body["status"] = "Success" if code < 400 else "Failure"
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if causes:
        body["details"] = {"causes": causes}
    body["code"] = code
    return aiohttp.web.json_response(body, status=code)


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels, matchExpressions) against labels; an empty selector
    selects nothing, as the eviction subresource reads a budget's."""
    if not selector:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _scaled(value: int | str, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int, or a percentage of ``total``."""
    if isinstance(value, int):
        return value
    share = int(str(value).rstrip("%")) * total / 100
    return math.ceil(share) if round_up else math.floor(share)


def eviction_refusal(pod: dict[str, Any], pods: list[dict[str, Any]], budgets: list[dict[str, Any]]) -> Any:
    """None when the pod may be evicted, else the API server's error response.

    Follows kubernetes v1.35 pkg/registry/core/pod/storage/eviction.go, EvictionREST.Create: a pod
    that canIgnorePDB (Succeeded, Failed, Pending, or already being deleted) goes; more than one
    budget selecting the pod is a 500 ("This pod has more than one PodDisruptionBudget, which the
    eviction subresource does not support."); a pod that is not Ready goes while the budget is met
    (currentHealthy >= desiredHealthy > 0, unhealthyPodEvictionPolicy IfHealthyBudget); else
    checkAndDecrement answers 429 TooManyRequests "Cannot evict pod as it would violate the pod's
    disruption budget." with a DisruptionBudget cause "The disruption budget NAME needs N healthy
    pods and has M currently" when no disruption is allowed.

    The budget's status is computed here rather than by a disruption controller
    (pkg/controller/disruption/disruption.go, simplified): expected pods are those the budget
    selects that are not being deleted, currentHealthy those of them that are Ready,
    desiredHealthy minAvailable (a percentage rounded up) or expected − maxUnavailable (a
    percentage rounded up), disruptionsAllowed currentHealthy − desiredHealthy.
    """
    meta = pod.get("metadata") or {}
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed", "Pending") or meta.get("deletionTimestamp"):
        return None
    labels = meta.get("labels") or {}
    mine = [b for b in budgets if _selects((b.get("spec") or {}).get("selector") or {}, labels)]
    if not mine:
        return None
    if len(mine) > 1:
        message = (
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
        )
        return _status(500, "InternalError", message)
    budget = mine[0]
    spec = budget.get("spec") or {}
    selected = [
        p
        for p in pods
        if _selects(spec.get("selector") or {}, (p.get("metadata") or {}).get("labels") or {})
        and not (p.get("metadata") or {}).get("deletionTimestamp")
    ]
    expected = len(selected)
    healthy = sum(1 for p in selected if _ready(p))
    if "minAvailable" in spec:
        desired = _scaled(spec["minAvailable"], expected, round_up=True)
    elif "maxUnavailable" in spec:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected, round_up=True))
    else:
        desired = 0
    if not _ready(pod) and healthy >= desired > 0:
        return None
    if healthy - desired > 0:
        return None
    name = (budget.get("metadata") or {}).get("name")
    cause = {
        "reason": "DisruptionBudget",
        "message": f"The disruption budget {name} needs {desired} healthy pods and has {healthy} currently",
    }
    message = "Cannot evict pod as it would violate the pod's disruption budget."
    return _status(429, "TooManyRequests", message, [cause])


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def resource_info(crd: dict[str, Any]) -> tuple[str, kmock.ResourceInfo]:
    """kmock's discovery entry (``group/version/plural``, ResourceInfo) for a CRD's served version."""
    spec = crd["spec"]
    version = next(v for v in spec["versions"] if v.get("storage"))
    names = spec["names"]
    info = kmock.ResourceInfo(
        kind=names["kind"],
        singular=names["singular"],
        namespaced=spec["scope"] == "Namespaced",
        verbs={"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
        shortnames=set(names.get("shortNames", [])),
        categories=set(names.get("categories", [])),
        subresources={"status"} if "status" in (version.get("subresources") or {}) else set(),
    )
    return f"{spec['group']}/{version['name']}/{names['plural']}", info


#: The custom kinds charts/slolab-platform installs on kind (group, version, kind, plural): the
#: Prometheus operator of kube-prometheus-stack, KEDA, Argo Rollouts and Chaos Mesh (the versions
#: of research components.md). Only their discovery entries, so that helm can map the kinds a lab
#: renders (a PodMonitor, a ScaledObject) as it does on a cluster with the platform installed;
#: the objects are not validated here (tests/test_crd_conformance.py does that against the
#: upstream CRDs).
PLATFORM_KINDS = (
    ("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors"),
    ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"),
    ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"),
    ("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects"),
    ("keda.sh", "v1alpha1", "TriggerAuthentication", "triggerauthentications"),
    ("argoproj.io", "v1alpha1", "Rollout", "rollouts"),
    ("argoproj.io", "v1alpha1", "AnalysisTemplate", "analysistemplates"),
    ("argoproj.io", "v1alpha1", "AnalysisRun", "analysisruns"),
    ("chaos-mesh.org", "v1alpha1", "PodChaos", "podchaos"),
    ("chaos-mesh.org", "v1alpha1", "NetworkChaos", "networkchaos"),
    ("chaos-mesh.org", "v1alpha1", "Schedule", "schedules"),
)


def platform_resources() -> list[tuple[str, kmock.ResourceInfo]]:
    """kmock discovery entries of PLATFORM_KINDS (namespaced, with a status subresource)."""
    return [
        (
            f"{group}/{version}/{plural}",
            kmock.ResourceInfo(
                kind=kind,
                singular=kind.lower(),
                namespaced=True,
                verbs={"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
                shortnames=set(),
                categories=set(),
                subresources={"status"},
            ),
        )
        for group, version, kind, plural in PLATFORM_KINDS
    ]


class KubeEmulator:
    """The emulator in a thread: ``with KubeEmulator(crd_files) as api: api.url``.

    ``platform``: also serve the kinds of charts/slolab-platform (PLATFORM_KINDS), as a kind
    cluster after ``make cluster`` does; False for a bare cluster."""

    def __init__(self, crd_files: list[Path], *, timeout_s: float = 10.0, platform: bool = True) -> None:
        self._crds = [yaml.safe_load(f.read_text(encoding="utf-8")) for f in crd_files]
        self._platform = platform
        self._timeout = timeout_s
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="kube-emulator", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.kmock: Emulator | None = None
        self.url = ""

    def __enter__(self) -> KubeEmulator:
        self._patches = patched()
        self._patches.__enter__()
        self._thread.start()
        if not self._ready.wait(self._timeout) or self._error is not None:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the Kubernetes emulator did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(self._timeout)
        self._patches.__exit__(None, None, None)
        if self._thread.is_alive():
            raise RuntimeError("the Kubernetes emulator did not stop")

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Emulator() as k, kmock.Server(k, host="127.0.0.1") as server:
            k.resources.load_bundled()
            for crd in self._crds:
                key, info = resource_info(crd)
                k.resources[key] = info
            for key, info in platform_resources() if self._platform else ():
                k.resources[key] = info
            k["get /version"] << KUBE_VERSION

            async def core_v1(request: rendering.Request) -> Any:
                body = await k._serve_version(request)
                body["groupVersion"] = "v1"
                return body

            k["get /api/v1"] << core_v1
            self.kmock = k
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def kubeconfig(self, path: Path) -> Path:
        """Write a kubeconfig for this server to ``path``."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "emulator"}}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}],
            "current-context": "emulator",
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    # -- reading state, on the emulator's own loop -------------------------------------------

    def call(self, fn: Callable[[Emulator], Any]) -> Any:
        """``fn(kmock)`` run on the emulator's loop, so it sees a consistent state."""
        assert self._loop is not None and self.kmock is not None

        async def run() -> Any:
            return fn(self.kmock)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(self._timeout)

    def objects(self, resource: str, namespace: str | None = None) -> dict[str, dict[str, Any]]:
        """``{name: object}`` of one resource (``v1/pods``, ``apps/v1/deployments``), live ones only."""
        wanted = kmock.resource(resource)

        def collect(k: Emulator) -> dict[str, dict[str, Any]]:
            out = {}
            for (res, ns, name), obj in k.objects.items():
                if res == wanted and (namespace is None or ns == namespace) and not obj.deleted:
                    out[name] = json.loads(json.dumps(obj.raw))
            return out

        return self.call(collect)

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects(resource, namespace).get(name)

    def requests(self) -> list[Recorded]:
        """Every request so far, oldest first."""
        return self.call(
            lambda k: [
                Recorded(
                    str(r.method.value).upper(), r.url.path, dict(r.params), r.headers.get("User-Agent", "")
                )
                for r in k
            ]
        )
