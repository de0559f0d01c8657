"""Clean up a deleted Lab (through the operator's finalizer): delete its scenario's kind-only
objects that it holds (kindmanifests.py), uninstall, delete the namespace.

Only a namespace labelled for this Lab is touched. The handler retries until the namespace is
gone, so the Lab (and its finalizer) disappears only after everything it made.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from slolab_operator import LAB_LABEL, kindmanifests, kube, namespace_for, releases, spec
from slolab_operator import deps as deps_mod


async def clean_up(deps: deps_mod.Deps, name: str, logger: logging.Logger, spec_: Any = None) -> None:
    """Uninstall Lab ``name``'s release and delete its namespace; TemporaryError until it is gone.

    ``spec_``: the Lab's spec, to find its scenario's kind-only objects (none when it does not parse)."""
    cfg, api, namespace = deps.config, deps.api(), namespace_for(name)
    try:
        run = spec.parse(name, spec_, deps.config.lab_overlay())
    except spec.SpecError as exc:
        run = None
        logger.info("Lab %s has no scenario to clean up after (%s)", name, exc.message)
    try:
        if run is not None and cfg.kind_manifests:
            await kindmanifests.delete(api, run, logger)
        existing = await api.read_namespace(namespace)
        if existing is None:
            return
        metadata = existing.get("metadata") or {}
        if (metadata.get("labels") or {}).get(LAB_LABEL) != name:
            logger.warning("namespace %s was not created for Lab %s; leaving it alone", namespace, name)
            return
        if not metadata.get("deletionTimestamp"):
            await deps.helm().uninstall(namespace, spec.RELEASE)
            await api.delete_namespace(namespace)
            logger.info("uninstalled release %s and deleted namespace %s", spec.RELEASE, namespace)
        if await api.read_namespace(namespace) is not None:
            raise kopf.TemporaryError(f"waiting for namespace {namespace} to be deleted", delay=5)
    except (kube.KubeError, releases.ReleaseError) as exc:
        raise deps_mod.retry(exc, cfg.retry_s) from None
