"""The ``sim`` backend: the lab's workspace run by the embedded simulator in virtual time.

Every wait of a grader advances virtual time, so a ten-minute rolling update grades in well
under a second. Deterministic for a seed: each random part draws from its own seeded stream.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slolab import errors, paths
from slolab.backends import base
from slolab.catalog import apivalidation, kindconfig, yamlfile
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.load import requestlog
from slolab.promql import engine as promql_engine
from slolab.promql import openmetrics, snapshot
from slolab.run import request as request_mod
from slolab.run import schedule, timeline
from slolab.sim import cluster as cluster_mod
from slolab.sim import drain as drain_mod
from slolab.sim import manifests, scrape, traffic


class SimClock:
    """Virtual time: ``sleep`` runs the simulation forward."""

    def __init__(self, sim: cluster_mod.Cluster) -> None:
        self._sim = sim

    def now_s(self) -> float:
        return float(self._sim.env.now)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._sim.env.run(until=self._sim.env.now + seconds)
            self._sim.sync_engines()


class SimClusterView:
    """API-shaped reads and the few writes graders make (rollout restart)."""

    def __init__(self, sim: cluster_mod.Cluster, clock: SimClock) -> None:
        self._sim = sim
        self._clock = clock
        self.namespace = sim.namespace

    def list(
        self, kind: str, namespace: str | None = None, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        if namespace not in (None, self.namespace) and kind != "Node":
            return []
        return self._sim.api_objects(kind, labels=labels)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        if namespace not in (None, self.namespace) and kind != "Node":
            return None
        return next(iter(self._sim.api_objects(kind, name=name)), None)

    def rollout_restart(self, kind: str, name: str, namespace: str | None = None) -> None:
        if kind != "Deployment" or self._sim.store.get("apps/v1", "Deployment", name, self.namespace) is None:
            raise errors.BackendError(
                f"no Deployment {name!r} in the workspace to restart",
                "Check metadata.name in the workspace's deployment.yaml.",
            )
        self._sim.record(
            timeline.GRADER_KIND, name, timeline.ROLLOUT_RESTART, f"kubectl rollout restart deployment/{name}"
        )
        self._sim.rollout_restart(name)

    def set_image(
        self, kind: str, name: str, container: str, image: str, namespace: str | None = None
    ) -> None:
        api_version = {"Rollout": "argoproj.io/v1alpha1", "Deployment": "apps/v1"}.get(kind)
        obj = self._sim.store.get(api_version, kind, name, self.namespace) if api_version else None
        if obj is None:
            raise errors.BackendError(
                f"no {kind} {name!r} in the workspace to set the image of",
                "Check metadata.name in the workspace's manifests.",
            )
        self._sim.record(
            timeline.GRADER_KIND,
            name,
            timeline.SET_IMAGE,
            f"set image {kind.lower()}/{name} {container}={image}",
        )
        self._sim.set_image(obj, container, image)

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, poll_s: float = 1.0) -> bool:
        return base.poll_until(self._clock, condition, timeout_s, poll_s)

    def apply(self, docs: list[yamlfile.Document]) -> None:
        """``kubectl apply -n <lab namespace>`` of manifests that are part of the lab's run (its
        chaos), not the learner's workspace."""
        for doc in docs:
            meta = doc.data.get("metadata") or {}
            what = f"kubectl apply {doc.data.get('kind')}"
            self._sim.record(timeline.GRADER_KIND, str(meta.get("name")), timeline.APPLIED, what)
        self._sim.apply(docs)

    def delete(self, docs: list[yamlfile.Document]) -> None:
        """``kubectl delete -f`` of what ``apply`` applied."""
        for doc in docs:
            meta = doc.data.get("metadata") or {}
            kind, name = str(doc.data.get("kind")), str(meta.get("name"))
            self._sim.record(timeline.GRADER_KIND, name, timeline.DELETED, f"kubectl delete {kind} {name}")
            self._sim.delete(str(doc.data.get("apiVersion")), kind, name)

    def drain(self, node: str, timeout_s: float | None = None) -> drain_mod.Drain:
        """Start ``kubectl drain NODE --ignore-daemonsets --delete-emptydir-data [--timeout]``; it
        runs while time passes (sim/drain.py). The returned Drain says when it is ``done`` or its
        ``error``, and holds kubectl's output lines."""
        self._sim.record(timeline.GRADER_KIND, node, timeline.DRAIN_STARTED, f"kubectl drain {node}")
        return drain_mod.start(self._sim, drain_mod.Drain(node=node, timeout_s=timeout_s))

    def uncordon(self, node: str) -> None:
        """``kubectl uncordon NODE``."""
        drain_mod.cordon(self._sim, node, unschedulable=False)


class SimLoadHandle:
    def __init__(self, profile: str, generator: traffic.OpenLoop) -> None:
        self.profile = profile
        self.generator = generator


class SimLoad:
    """Open-loop traffic of the scenario's profiles, sent to the lab's Service."""

    def __init__(self, backend: SimBackend) -> None:
        self._backend = backend
        self._count = 0
        self.logs: list[requestlog.RequestLog] = []

    def start(self, profile: str) -> SimLoadHandle:
        b = self._backend
        spec = b.scenario.profile(profile)
        target = b.lab.grading.target.service
        rng = random.Random(schedule.traffic_seed(b.seed, profile, self._count))
        self._count += 1
        generator = traffic.OpenLoop(
            b.sim.env,
            profile,
            spec,
            rng,
            lambda req, at_s: b.sim.send(target, req, at_s),
            first_id=self._count * 10_000_000,
        )
        b.sim.record(
            timeline.LOAD_KIND,
            profile,
            timeline.LOAD_STARTED,
            (
                f"{spec.rate_rps:g} req/s open-loop Poisson to service {target}"
                if not spec.rate_curve
                else f"open-loop Poisson, {spec.rate_rps:g} req/s × a rate curve "
                f"(peak {spec.peak_rps:g} req/s) to service {target}"
            ),
        )
        return SimLoadHandle(profile, generator)

    def stop(self, handle: SimLoadHandle, drain_s: float | None = None) -> requestlog.RequestLog:
        b = self._backend
        gen = handle.generator
        gen.stop()
        b.sim.record(
            timeline.LOAD_KIND, handle.profile, timeline.LOAD_STOPPED, f"{len(gen.requests)} requests sent"
        )
        limit = gen.profile.timeout_s if drain_s is None else drain_s
        b.cluster.wait_for(lambda: gen.in_flight() == 0, timeout_s=limit, poll_s=1.0)
        log = requestlog.RequestLog(
            gen.requests,
            profile=handle.profile,
            rate_rps=gen.profile.rate_rps,
            started_s=gen.started_s,
            stopped_s=gen.stopped_s,
        )
        self.logs.append(log)
        return log

    def so_far(self, handle: SimLoadHandle) -> list[request_mod.Request]:
        """The requests of ``handle`` finished by now (a game day's stop condition reads them while
        the load runs on); unlike :meth:`stop` this ends nothing and records nothing."""
        self._backend.sim.sync_engines()
        return handle.generator.finished()

    def run(self, profile: str, duration_s: float) -> requestlog.RequestLog:
        handle = self.start(profile)
        self._backend.clock.sleep(duration_s)
        return self.stop(handle)


#: the TSDB's timestamps minus run seconds
OFFSET_S = scrape.STAMP_OFFSET_S


class SimProm:
    """``lab.prom`` on sim: PromQL (promql.engine) over the TSDB the run's scrape loop fills
    (sim/scrape.py). Run seconds in and out, as ``base.Prom`` says: the TSDB is stamped in unix
    seconds (``scrape.STAMP_OFFSET_S`` + run seconds, the simulated API server's clock), so query
    times are moved forward by that offset and sample times back, as KubeProm does with the
    wall clock's start on kind."""

    def __init__(self, sim: cluster_mod.Cluster) -> None:
        self._sim = sim

    @property
    def engine(self) -> promql_engine.Engine:
        """The PromQL engine over the run's TSDB as of now (unix seconds in and out)."""
        return promql_engine.Engine(self._sim.tsdb)

    def query(self, expr: str, at_s: float | None = None) -> list[dict[str, Any]]:
        at = self._sim.env.now if at_s is None else at_s
        return base.shift(self.engine.query(expr, OFFSET_S + at), -OFFSET_S)

    def query_range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[dict[str, Any]]:
        result = self.engine.query_range(expr, OFFSET_S + start_s, OFFSET_S + end_s, step_s)
        return base.shift(result, -OFFSET_S)

    def save_tsdb(self, path: Path) -> None:
        """Save the run's TSDB (promql/snapshot.py), as report/runmetrics.py's ``Exporter`` asks."""
        snapshot.save(self._sim.tsdb, path)

    def export_openmetrics(self, path: Path) -> None:
        """Write the run's samples as OpenMetrics (promql/openmetrics.py; staleness markers left
        out), stamped as the TSDB is: ``objects.EPOCH`` + run seconds."""
        with Path(path).open("w", encoding="utf-8") as out:
            for line in openmetrics.lines(self._sim.tsdb):
                out.write(line + "\n")


class SimBackend:
    """A lab's workspace loaded into a fresh simulated cluster."""

    name = "sim"

    def __init__(self, lab: lab_mod.Lab, workspace: Path, seed: int) -> None:
        self.lab = lab
        self.scenario = scenario_mod.load(lab.scenario)
        self.seed = seed
        namespace = f"lab-{lab.name}"
        docs = manifests.load(Path(workspace))
        # as `kubectl apply -n lab-<name>` on kind: an object of another namespace is refused
        elsewhere = apivalidation.namespace_problems(docs, namespace)
        if elsewhere:
            raise errors.ManifestError(
                elsewhere, f"Remove metadata.namespace or set it to {namespace}: the lab runs there."
            )
        _, node_specs = kindconfig.load(paths.root() / self.scenario.topology.kind_config)
        nodes = cluster_mod.build_nodes(self.scenario, node_specs)
        self.sim = cluster_mod.Cluster(self.scenario, nodes, seed, namespace=namespace)
        self.sim.apply(docs)
        self.clock = SimClock(self.sim)
        self.cluster = SimClusterView(self.sim, self.clock)
        self.load = SimLoad(self)
        self.prom = SimProm(self.sim)

    @property
    def events(self) -> list[base.Event]:
        return list(self.sim.recorder.events)

    def mark(self, reason: str, message: str = "") -> None:
        """Put a grader marker on the timeline (shown on the report plot)."""
        self.sim.record(timeline.GRADER_KIND, self.lab.name, reason, message)

    def series(self) -> dict[str, list[tuple[float, float]]]:
        return {k: list(v) for k, v in self.sim.recorder.series.items()}

    def logs(self) -> list[requestlog.RequestLog]:
        return list(self.load.logs)

    def close(self) -> None:
        pass


def preflight(lab: lab_mod.Lab, workspace: Path) -> None:
    """Load and check the workspace as a grade would, without running it (InputError if bad)."""
    SimBackend(lab, workspace, lab.seeds[0]).close()
