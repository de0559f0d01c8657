"""Container probes: startup, readiness and liveness, with the kubelet's exact semantics.

Upstream: kubernetes v1.35 pkg/kubelet/prober/{worker.go,prober.go,prober_manager.go} and
the documentation "Configure Liveness, Readiness and Startup Probes". Modelled:
initialDelaySeconds (compared as whole seconds since the container started), periodSeconds,
failureThreshold and successThreshold as runs of equal results, initial results (readiness
Failure, liveness Success, startup Unknown), the startup probe gating the other two, readiness
probed at once when startup succeeds, liveness/startup failure putting the worker on hold and
the container being killed (with the probe's terminationGracePeriodSeconds when set), httpGet
(2xx/3xx is success; connection refused, 404 and HTTPS-to-HTTP fail) and tcpSocket handlers,
named ports. Defaults: period 10 s, timeout 1 s, thresholds 1 / 3. Not modelled: exec and grpc
handlers (rejected when the manifest loads), slow responses (a listening server answers
/health at once, so timeoutSeconds never fires), kubelet-restart jitter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slolab.sim import objects, serverargs

if TYPE_CHECKING:
    from slolab.sim import kubelet as kubelet_mod

SUCCESS, FAILURE, UNKNOWN = "Success", "Failure", "Unknown"
INITIAL = {"readiness": FAILURE, "liveness": SUCCESS, "startup": UNKNOWN}
FIELD = {"startup": "startupProbe", "readiness": "readinessProbe", "liveness": "livenessProbe"}

_HANDLER_FIELDS = (
    "httpGet.path",
    "httpGet.port",
    "httpGet.scheme",
    "httpGet.host",
    "httpGet.httpHeaders[*].*",
    "tcpSocket.port",
    "tcpSocket.host",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
)
#: The probe fields of a container this module models (the kubelet declares them).
CONTAINER_FIELDS = tuple(f"{probe}.{field}" for probe in FIELD.values() for field in _HANDLER_FIELDS)


def resolve_port(port: Any, container: dict[str, Any]) -> int | None:
    """An int port, or a named one looked up in the container's ports (probe.ResolveContainerPort)."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    return None


def run_handler(
    spec: dict[str, Any], pod: objects.Pod, c: objects.Container, server_port: int | None
) -> tuple[bool, str]:
    """Probe the container once: (success, output) as prober.go would log it."""
    handler = spec.get("httpGet") or spec.get("tcpSocket") or {}
    port = resolve_port(handler.get("port"), c.spec)
    if port is None:
        return False, f"unable to find port {handler.get('port')!r} in container {c.name}"
    listening = c.listening and server_port == port
    ip = pod.ip or "0.0.0.0"
    if "tcpSocket" in spec:
        if listening:
            return True, ""
        return False, f"dial tcp {ip}:{port}: connect: connection refused"
    path = str(handler.get("path") or "/")
    scheme = str(handler.get("scheme") or "HTTP").lower()
    url = f"{scheme}://{ip}:{port}{path}"
    if not listening:
        return False, f'Get "{url}": dial tcp {ip}:{port}: connect: connection refused'
    if scheme == "https":
        return False, f'Get "{url}": http: server gave HTTP response to HTTPS client'
    if path.split("?", 1)[0] not in serverargs.ROUTES:
        return False, "HTTP probe failed with statuscode: 404"
    return True, ""


class Worker:
    """One probe of one container instance (prober/worker.go); ``kubelet`` acts on results."""

    def __init__(
        self,
        kubelet: kubelet_mod.Kubelet,
        pod: objects.Pod,
        c: objects.Container,
        kind: str,
        spec: dict[str, Any],
        server_port: int | None,
    ) -> None:
        self.kubelet = kubelet
        self.pod, self.c, self.kind, self.spec = pod, c, kind, spec
        self.instance = c.instance
        self.server_port = server_port
        self.period_s = float(spec.get("periodSeconds", 10))
        self.initial_delay_s = int(spec.get("initialDelaySeconds", 0))
        self.failure_threshold = int(spec.get("failureThreshold", 3))
        self.success_threshold = int(spec.get("successThreshold", 1))
        self.result = INITIAL[kind]
        self.last_result: str | None = None
        self.result_run = 0
        self.on_hold = False

    @property
    def alive(self) -> bool:
        c = self.c
        return c.instance == self.instance and c.state == "running" and not c.lost

    def run(self, env: Any):
        """The worker loop: probe, then wait one period, while the container instance runs."""
        while self.alive:
            self.probe(env.now)
            yield env.timeout(self.period_s)

    def probe(self, now_s: float) -> None:
        """doProbe: one tick of the worker."""
        if not self.alive or self.on_hold:
            return
        started_at = self.c.started_at_s or now_s
        if int(now_s - started_at) < self.initial_delay_s:
            return
        if self.kind == "startup" and self.c.started:
            return
        if self.kind != "startup" and not self.c.started:
            return
        ok, output = run_handler(self.spec, self.pod, self.c, self.server_port)
        result = SUCCESS if ok else FAILURE
        if not ok:
            self.kubelet.probe_failed(self.pod, self.c, self.kind, output)
        if result == self.last_result:
            self.result_run += 1
        else:
            self.last_result, self.result_run = result, 1
        if (result == FAILURE and self.result_run < self.failure_threshold) or (
            result == SUCCESS and self.result_run < self.success_threshold
        ):
            return
        changed = result != self.result
        self.result = result
        if self.kind in {"liveness", "startup"} and result == FAILURE:
            self.on_hold, self.result_run = True, 0
            grace = self.spec.get("terminationGracePeriodSeconds")
            self.kubelet.probe_kill(self.pod, self.c, self.kind, None if grace is None else float(grace))
            return
        if changed:
            self.kubelet.probe_result(self.pod, self.c, self.kind, result)
