"""``lab.prom`` on kind and cluster: the platform's Prometheus, through prometheus-api-client.

Which Prometheus (first that applies):

* ``$SLOLAB_PROMETHEUS_URL``, on any backend;
* in-cluster (the operator's grading Job): slolab-platform's kube-prometheus-stack Service,
  ``http://kps-prometheus.slolab-system.svc:9090`` (charts/slolab-platform/values.yaml);
* ``kind`` from the laptop: its NodePort 30090, which kind-config.yaml publishes on 127.0.0.1;
* otherwise (``cluster`` from a laptop) a BackendError saying to set ``SLOLAB_PROMETHEUS_URL``.

The address is found at the first query, so a grader that asks no PromQL never needs one.
Queries take and return run seconds, as ``base.Prom`` promises: ``at_s`` and ``start_s``/
``end_s`` are moved by the wall clock's start (``t0_epoch``), and every sample's timestamp is
moved back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from slolab import errors
from slolab.backends import base
from slolab.catalog import kindconfig
from slolab.metrics import query

IN_CLUSTER_URL = "http://kps-prometheus.slolab-system.svc:9090"
#: kube-prometheus-stack's Prometheus NodePort (charts/slolab-platform/values.yaml).
NODE_PORT = 30090


def prometheus_url(backend: str, *, in_cluster: bool) -> str:
    """Where this machine reaches the platform's Prometheus (see the module docstring)."""
    explicit = os.environ.get("SLOLAB_PROMETHEUS_URL")
    if explicit:
        return explicit.rstrip("/")
    if in_cluster:
        return IN_CLUSTER_URL
    if backend == "kind":
        mapped = kindconfig.published_node_ports()
        if NODE_PORT in mapped:
            return f"http://127.0.0.1:{mapped[NODE_PORT]}"
        raise errors.BackendError(
            f"kind-config.yaml publishes no port for Prometheus' NodePort {NODE_PORT} on 127.0.0.1.",
            f"Restore its extraPortMappings entry for {NODE_PORT}, or set SLOLAB_PROMETHEUS_URL.",
        )
    raise errors.BackendError(
        "no Prometheus address for the cluster backend from this machine.",
        "Set SLOLAB_PROMETHEUS_URL (e.g. after `kubectl -n slolab-system port-forward svc/kps-prometheus "
        "9090`: http://127.0.0.1:9090).",
    )


class KubeProm:
    """``base.Prom`` over a real Prometheus, in run seconds."""

    def __init__(
        self,
        url: Callable[[], str],
        t0_epoch: float,
        now_s: Callable[[], float],
        connect: Callable[[str], query.Prometheus] = query.Prometheus,
    ) -> None:
        self._url = url
        self._t0_epoch = t0_epoch
        self._now_s = now_s
        self._connect = connect
        self._client: query.Prometheus | None = None

    def _prometheus(self) -> query.Prometheus:
        if self._client is None:
            self._client = self._connect(self._url())
        return self._client

    def query(self, expr: str, at_s: float | None = None) -> list[dict[str, Any]]:
        at = self._t0_epoch + (self._now_s() if at_s is None else at_s)
        return base.shift(self._prometheus().query(expr, at), -self._t0_epoch)

    def query_range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[dict[str, Any]]:
        t0 = self._t0_epoch
        return base.shift(self._prometheus().query_range(expr, t0 + start_s, t0 + end_s, step_s), -t0)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
