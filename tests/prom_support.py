"""A ``lab.prom`` over a TSDB that can export its samples, as the sim backend's does.

``TSDBProm`` answers ``base.Prom`` in run seconds over a TSDB stamped ``runmetrics.EPOCH_S`` +
run seconds (the engine does the work, so answers are Prometheus'), and implements
``runmetrics.Exporter``. It stands in for the sim backend's Prom until the simulator scrapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slolab.metrics import local
from slolab.promql import command, engine, snapshot, synthetic, tsdb
from slolab.report import runmetrics

NAMESPACE = "lab-readiness-probes"


def serving_run(
    duration_s: float = 600.0, seed: int = 3, pods: int = 2, namespace: str = NAMESPACE
) -> tsdb.TSDB:
    """A synthetic serving run of Deployment ``llm`` in ``namespace``, from run second 0."""
    return synthetic.serving_run(
        seed,
        pods=pods,
        duration_s=duration_s,
        start_s=runmetrics.EPOCH_S,
        namespace=namespace,
        deployment="llm",
    )


class TSDBProm:
    """``base.Prom`` and ``runmetrics.Exporter`` over ``db``."""

    def __init__(self, db: tsdb.TSDB, now_s: float) -> None:
        self.db = db
        self.now_s = now_s
        self.exported: list[Path] = []
        self._engine = engine.Engine(db)

    def query(self, expr: str, at_s: float | None = None) -> list[dict[str, Any]]:
        at = runmetrics.to_unix_s(self.now_s if at_s is None else at_s)
        body = {"data": dict(zip(("resultType", "result"), self._engine.instant(expr, at), strict=True))}
        return command.shift(body, -runmetrics.EPOCH_S)["data"]["result"]

    def query_range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[dict[str, Any]]:
        _, result = self._engine.range(
            expr, runmetrics.to_unix_s(start_s), runmetrics.to_unix_s(end_s), step_s
        )
        body = {"data": {"resultType": "matrix", "result": result}}
        return command.shift(body, -runmetrics.EPOCH_S)["data"]["result"]

    def save_tsdb(self, path: Path) -> None:
        self.exported.append(path)
        snapshot.save(self.db, path)


class PodMonitorPrometheus(local.LocalPrometheus):
    """A LocalPrometheus whose targets carry the labels a PodMonitor gives them on kind (one
    `slolab serve` per pod): job ``<namespace>/<workload>`` (waited on by wait_for_targets),
    namespace, pod, container and endpoint, plus ``pod_labels[pod]`` (e.g. a pod label that the
    PodMonitor's relabelling copies onto every series)."""

    def __init__(
        self,
        pods: dict[str, str],
        namespace: str,
        workload: str,
        container: str,
        pod_labels: dict[str, dict[str, str]] | None = None,
    ) -> None:
        super().__init__(list(pods.values()), job=f"{namespace}/{workload}")
        self.pods = pods
        self.namespace, self.container = namespace, container
        self.pod_labels = pod_labels or {}

    def config(self) -> dict:
        config = super().config()
        config["scrape_configs"][0]["static_configs"] = [
            {
                "targets": [address],
                "labels": {
                    "namespace": self.namespace,
                    "pod": pod,
                    "container": self.container,
                    "endpoint": "http",
                    **self.pod_labels.get(pod, {}),
                },
            }
            for pod, address in self.pods.items()
        ]
        return config
