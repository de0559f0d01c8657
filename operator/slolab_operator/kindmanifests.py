"""A scenario's kind-only objects (``topology.kind_manifests``): applied with the lab, deleted with it.

The scenario llama-8b-h100-autoscale holds 4 of the fake GPU worker's 8 GPUs with a Deployment
in slolab-system (kind-gpu-reservation.yaml), so that the 5th model-server replica is Pending
as on the simulator. Only when ``Config.kind_manifests`` is on (chart value kindManifests, set
by make cluster): on a real cluster such a pod would hold real GPUs. :func:`apply` runs on every
install of the lab's starting state (create and each reset) before the Helm release: it creates
each object, or replaces it with the scenario's manifest when it is there (a reset restores what
a learner changed). :func:`delete` runs from the cleanup handler before the release is uninstalled.

Each object gets the label ``slolab.dev/lab: <Lab name>``. Two Labs of the same scenario share
one object: the one applied last holds it, and the cleanup of a Lab deletes only what it holds,
so deleting the other Lab does not take the GPUs back from under a running one. Which kinds can
be listed, and in which namespace, is checked when the scenario loads
(src/slolab/catalog/kindmanifests.py); the operator's Role allows just those.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from slolab.catalog import kindmanifests as catalog
from slolab_operator import LAB_LABEL, MANAGED_BY, kube, spec

log = logging.getLogger(__name__)


def _body(manifest: catalog.Manifest, lab: str) -> dict[str, Any]:
    body = copy.deepcopy(manifest.data)
    metadata = body.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), LAB_LABEL: lab, **MANAGED_BY}
    return body


async def apply(api: kube.Kube, run: spec.LabRun, logger: logging.Logger) -> int:
    """Create or replace each kind-only object of ``run``'s scenario; how many there are."""
    manifests = run.scenario.kind_manifests()
    for manifest in manifests:
        body = _body(manifest, run.name)
        created = await api.apply_object(manifest.collection, body)
        logger.info(
            "%s %s %s/%s from %s",
            "created" if created else "replaced",
            manifest.kind,
            manifest.namespace,
            manifest.name,
            manifest.file,
        )
    return len(manifests)


async def delete(api: kube.Kube, run: spec.LabRun, logger: logging.Logger) -> None:
    """Delete each kind-only object of ``run``'s scenario that Lab ``run.name`` holds."""
    for manifest in run.scenario.kind_manifests():
        found = await api.read_object(manifest.path)
        if found is None:
            continue
        holder = ((found.get("metadata") or {}).get("labels") or {}).get(LAB_LABEL)
        if holder != run.name:
            logger.info(
                "leaving %s %s/%s: Lab %r holds it", manifest.kind, manifest.namespace, manifest.name, holder
            )
            continue
        await api.delete_object(manifest.path)
        logger.info("deleted %s %s/%s", manifest.kind, manifest.namespace, manifest.name)
