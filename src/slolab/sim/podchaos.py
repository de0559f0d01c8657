"""Chaos Mesh PodChaos: pod-kill, container-kill and pod-failure on the simulated cluster.

Upstream: chaos-mesh v2.8.3 api/v1alpha1/podchaos_types.go (actions, ``gracePeriod`` default 0,
``containerNames``; ``GetSelectorSpecs``: a pod selector for pod-kill and pod-failure, a
container selector for container-kill; ``IsOneShot`` for pod-kill and container-kill) and
controllers/chaosimpl/podchaos:
- podkill/impl.go ``Apply``: delete the pod with GracePeriodSeconds = spec.gracePeriod. It goes
  straight to the API's delete, not through the Eviction API, so no PodDisruptionBudget holds
  it back; with the default 0 the pod is killed at once and its streams are cut;
- containerkill/impl.go ``Apply``: chaos-daemon's ContainerKill, a SIGKILL of the container's
  process (``Cluster.kill_container``); the kubelet restarts it per restartPolicy. The container
  selector (pkg/selector/container/selector.go) takes ``containerNames``, or the first container
  of each pod when none is given;
- podfailure/impl.go ``Apply``: every container's image is replaced by the pause image (the
  original kept in an annotation), so the kubelet restarts each container as one that runs and
  serves nothing; ``Recover`` puts the images back and the containers restart with them (and
  load the model again). Here the kubelet's reaction to the changed image is a SIGKILL of the
  running container, which then restarts after the crash back-off (upstream computePodActions
  restarts a changed container without one: "Container definition changed, will be restarted").
Docs: https://chaos-mesh.org/docs/simulate-pod-chaos-on-kubernetes/ (v2.8).
"""

from __future__ import annotations

import random

from slolab import errors
from slolab.catalog import yamlfile
from slolab.run import timeline
from slolab.sim import chaosexperiment, kubelet, objects, store

PAUSE_IMAGE = "gcr.io/google-containers/pause:latest"  # config.ControllerCfg.PodFailurePauseImage
ACTIONS = ("pod-kill", "pod-failure", "container-kill")


def _validate(doc: yamlfile.Document) -> list[errors.Problem]:
    spec = doc.data.get("spec") or {}
    problems = []
    path: tuple[str, ...] = ("spec", "action")
    if spec.get("action") not in ACTIONS:
        problems.append(
            errors.Problem(
                doc.file,
                f"spec.action must be one of {', '.join(ACTIONS)}",
                yamlfile.dotted(path),
                doc.line_of(path),
            )
        )
    if spec.get("action") == "pod-failure" and not spec.get("duration"):
        path = ("spec", "duration")
        problems.append(
            errors.Problem(
                doc.file,
                "spec.duration is required for pod-failure",
                yamlfile.dotted(path),
                doc.line_of(path),
            )
        )
    return problems


KIND = chaosexperiment.kind(
    "PodChaos", ("spec.action", "spec.gracePeriod", "spec.containerNames[*]"), _validate
)


class Controller(chaosexperiment.ExperimentController):
    """The PodChaos reconcilers (records with the impl of spec.action)."""

    name = "podchaos"
    kind = "PodChaos"
    owns = (KIND,)
    watches = ((chaosexperiment.API_VERSION, "PodChaos"),)

    def one_shot(self, chaos: store.Generic) -> bool:
        return chaos.spec.get("action") in ("pod-kill", "container-kill")

    def targets(self, chaos: store.Generic, rng: random.Random) -> list[str]:
        pods = chaosexperiment.select_pods(self.api.store, chaos, chaos.spec, rng)
        if chaos.spec.get("action") != "container-kill":
            return [f"{p.namespace}/{p.name}" for p in pods]
        names = chaos.spec.get("containerNames") or []
        ids = []
        for pod in pods:
            chosen = (
                [c.name for c in pod.containers if c.name in names] if names else [pod.containers[0].name]
            )
            ids += [f"{pod.namespace}/{pod.name}/{c}" for c in chosen]
        return ids

    def apply(self, chaos: store.Generic, record_id: str) -> str:
        pod = chaosexperiment.pod_of(self.api.store, record_id)
        action = chaos.spec.get("action")
        if action == "pod-kill":
            self.api.store.delete(pod, grace_period_s=float(chaos.spec.get("gracePeriod", 0)))
        elif action == "container-kill":
            name = record_id.split("/")[2]
            c = next((c for c in pod.containers if c.name == name), None)
            if c is None:
                raise chaosexperiment.ApplyError(f"container {name} not found", chaosexperiment.NOT_INJECTED)
            self._kill(pod, c, "container-kill (SIGKILL)")
        else:
            key = _annotation(chaos)
            if key not in pod.meta.annotations:
                pod.meta.annotations[key] = ",".join(c.spec.get("image", "") for c in pod.containers)
                for c in pod.containers:
                    c.spec["image"] = PAUSE_IMAGE
                    self._kill(pod, c, "pod-failure: image replaced by the pause image")
                self.api.store.update(pod)
        return chaosexperiment.INJECTED

    def recover(self, chaos: store.Generic, record_id: str) -> str:
        if chaos.spec.get("action") != "pod-failure":
            return chaosexperiment.NOT_INJECTED
        try:
            pod = chaosexperiment.pod_of(self.api.store, record_id)
        except chaosexperiment.ApplyError:
            return chaosexperiment.NOT_INJECTED  # the pod is gone: nothing to recover
        images = pod.meta.annotations.pop(_annotation(chaos), None)
        if images is not None:
            for c, image in zip(pod.containers, images.split(","), strict=False):
                c.spec["image"] = image
                self._kill(pod, c, "pod-failure recovered: original image restored")
            self.api.store.update(pod)
        return chaosexperiment.NOT_INJECTED

    def _kill(self, pod: objects.Pod, c: objects.Container, reason: str) -> None:
        """chaos-daemon's kill (or the kubelet's restart of a changed container): SIGKILL."""
        self.api.record("Pod", pod.name, timeline.CONTAINER_KILLED, f"container {c.name} killed: {reason}")
        for ctl in self.api.controllers:
            if isinstance(ctl, kubelet.Controller) and pod.node in ctl.kubelets:
                ctl.kubelets[pod.node].kill_container(pod, c, "SIGKILL")


def _annotation(chaos: store.Generic) -> str:
    """annotation.GenKeyForImage: where the original images are kept."""
    return f"{chaos.meta.name}-{chaos.meta.namespace}-images"
