"""Chaos Mesh NetworkChaos, action delay: netem latency on the selected pods' traffic.

Upstream: chaos-mesh v2.8.3 api/v1alpha1/networkchaos_types.go (``delay{latency, jitter,
correlation}``, ``direction`` to (default), from or both, ``target``) and
controllers/chaosimpl/networkchaos (trafficcontrol/impl.go ``Apply``: the selected pods get a
PodNetworkChaos with a netem qdisc on their interface, removed by ``Recover``). A NetworkChaos
is not one-shot: it is recovered when its ``duration`` ends, while it is paused, or when it is
deleted (chaosexperiment.py). Docs:
https://chaos-mesh.org/docs/simulate-network-chaos-on-kubernetes/ (v2.8).
The delay lands on requests that reach a selected pod (sim/netem.py says where and what it
leaves out). Without ``target``, direction ``to`` delays all the selected pods' traffic; with a
target, only the traffic between the two sets of pods, which for a model server that only
answers clients is none, so ``target`` and the other directions are refused rather than
silently having no effect. Not modelled: the actions other than delay, reorder,
externalTargets, device.
"""

from __future__ import annotations

import random

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import chaosexperiment, netem, store


def _validate(doc: yamlfile.Document) -> list[errors.Problem]:
    spec = doc.data.get("spec") or {}
    problems = []

    def bad(path: tuple[str, ...], message: str) -> None:
        problems.append(errors.Problem(doc.file, message, yamlfile.dotted(path), doc.line_of(path)))

    if spec.get("action") != "delay":
        bad(
            ("spec", "action"),
            f"spec.action {spec.get('action')} is not modeled by the simulator (only delay)",
        )
    if spec.get("direction", "to") != "to":
        bad(("spec", "direction"), "spec.direction is not modeled by the simulator (only to, the default)")
    delay = spec.get("delay") or {}
    if "latency" not in delay:
        bad(("spec", "delay", "latency"), "spec.delay.latency is required for action delay")
    for field in ("latency", "jitter"):
        if field in delay:
            try:
                chaosexperiment.go_duration_s(delay[field])
            except ValueError as exc:
                bad(("spec", "delay", field), f"spec.delay.{field}: {exc}")
    try:
        correlation = float(delay.get("correlation", "0"))
        if not 0 <= correlation <= 100:
            raise ValueError
    except ValueError:
        bad(("spec", "delay", "correlation"), "spec.delay.correlation must be a percentage from 0 to 100")
    return problems


KIND = chaosexperiment.kind(
    "NetworkChaos",
    ("spec.action", "spec.direction", "spec.delay.latency", "spec.delay.jitter", "spec.delay.correlation"),
    _validate,
)


class Controller(chaosexperiment.ExperimentController):
    """The NetworkChaos reconcilers: a netem delay on each selected pod while injected."""

    name = "networkchaos"
    kind = "NetworkChaos"
    owns = (KIND,)
    watches = ((chaosexperiment.API_VERSION, "NetworkChaos"),)

    def targets(self, chaos: store.Generic, rng: random.Random) -> list[str]:
        pods = chaosexperiment.select_pods(self.api.store, chaos, chaos.spec, rng)
        return [f"{p.namespace}/{p.name}" for p in pods]

    def apply(self, chaos: store.Generic, record_id: str) -> str:
        pod = chaosexperiment.pod_of(self.api.store, record_id)
        delay = chaos.spec.get("delay") or {}
        pod.netem = netem.Delay(
            env=self.api.env,
            latency_s=chaosexperiment.go_duration_s(delay["latency"]),
            jitter_s=chaosexperiment.go_duration_s(delay.get("jitter", "0")),
            correlation=float(delay.get("correlation", "0")) / 100,
            rng=self.api.rng(f"netem:{chaos.meta.uid}:{record_id}"),
        )
        return chaosexperiment.INJECTED

    def recover(self, chaos: store.Generic, record_id: str) -> str:
        try:
            pod = chaosexperiment.pod_of(self.api.store, record_id)
        except chaosexperiment.ApplyError:
            return chaosexperiment.NOT_INJECTED  # the pod is gone, and its qdisc with it
        pod.netem = None
        return chaosexperiment.NOT_INJECTED
