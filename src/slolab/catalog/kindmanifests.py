"""A scenario's kind-only manifests (``topology.kind_manifests``): load and check them.

Some of what a scenario states as capacity on the simulator has to be made on a real cluster
by objects of its own. The llama-8b-h100-autoscale scenario's pool of 4 GPUs is one: on kind
the fake GPU worker advertises 8 (charts/slolab-platform), and ``kind-gpu-reservation.yaml``
holds 4 of them with a pod. On kind (the operator chart's ``kindManifests``, which make cluster
sets) the operator applies these objects once per install (create and reset) before the lab's
Helm release, and deletes them when the Lab is deleted (operator/slolab_operator/kindmanifests.py);
on a real cluster it leaves them out, as such a pod would hold real GPUs. The simulator never
reads them: there the pool's size is the scenario's capacity.

Each file is a path relative to the scenario's folder; each document in it must be one of
:data:`KINDS` (those the operator's RBAC in charts/slolab-operator lets it manage), name its
``metadata.namespace`` (the objects live outside the lab's namespace, which the learner owns),
and put it in :data:`NAMESPACE` (where the operator runs and its Role lets it manage them:
charts/slolab-operator templates/role.yaml). Problems name the file, the line and the field.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from slolab import errors, paths
from slolab.catalog import yamlfile

#: The platform's namespace (make cluster installs slolab-platform and the operator there).
NAMESPACE = "slolab-system"
#: (apiVersion, kind) -> the resource's plural, as the API paths name it.
KINDS: dict[tuple[str, str], str] = {
    ("apps/v1", "Deployment"): "deployments",
}


@dataclasses.dataclass(frozen=True)
class Manifest:
    """One object of a kind-only manifest: where it came from and its plural for the API path."""

    file: str
    data: dict[str, Any]
    plural: str

    @property
    def api_version(self) -> str:
        return self.data["apiVersion"]

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def namespace(self) -> str:
        return self.data["metadata"]["namespace"]

    @property
    def name(self) -> str:
        return self.data["metadata"]["name"]

    @property
    def collection(self) -> str:
        """The API path of the object's collection, e.g. /apis/apps/v1/namespaces/x/deployments."""
        group = "api" if "/" not in self.api_version else "apis"
        return f"/{group}/{self.api_version}/namespaces/{self.namespace}/{self.plural}"

    @property
    def path(self) -> str:
        """The API path of the object itself."""
        return f"{self.collection}/{self.name}"


def load(directory: Path, files: list[str], field_lines: list[int | None], source: str) -> list[Manifest]:
    """The objects of ``files`` (relative to ``directory``); CatalogError listing every problem.

    ``field_lines``: the line of each entry of ``topology.kind_manifests`` in ``source``."""
    problems: list[errors.Problem] = []
    out: list[Manifest] = []
    base = directory.resolve()
    for i, (name, line) in enumerate(zip(files, field_lines, strict=True)):
        field = f"topology.kind_manifests[{i}]"
        path = (directory / name).resolve()
        if Path(name).is_absolute() or not path.is_relative_to(base):
            problems.append(errors.Problem(source, f"{name!r} is outside the scenario's folder", field, line))
            continue
        if not path.is_file():
            problems.append(errors.Problem(source, f"no file {name!r} in the scenario's folder", field, line))
            continue
        display = paths.relative(path)
        try:
            docs = yamlfile.load_all(path, display)
        except errors.InputError as exc:
            problems.extend(exc.problems)
            continue
        docs = [d for d in docs if d.data is not None]
        if not docs:
            problems.append(errors.Problem(source, f"{name!r} holds no object", field, line))
        for doc in docs:
            manifest, found = _check(doc)
            problems.extend(found)
            if manifest is not None:
                out.append(manifest)
    if problems:
        raise errors.CatalogError(problems)
    return out


def _check(doc: yamlfile.Document) -> tuple[Manifest | None, list[errors.Problem]]:
    data = doc.data
    if not isinstance(data, dict):
        return None, [
            errors.Problem(doc.file, "must be a Kubernetes object (a mapping)", None, doc.line_of(()))
        ]
    problems: list[errors.Problem] = []
    key = (data.get("apiVersion"), data.get("kind"))
    plural = KINDS.get(key)  # type: ignore[arg-type]
    if plural is None:
        known = ", ".join(f"{v} {k}" for v, k in KINDS)
        problems.append(
            errors.Problem(
                doc.file,
                f"{key[0]} {key[1]} is not applied by the operator on kind; expected one of: {known}",
                "kind",
                doc.line_of(("kind",)),
            )
        )
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    for field in ("name", "namespace"):
        if not isinstance(metadata.get(field), str) or not metadata.get(field):
            problems.append(
                errors.Problem(
                    doc.file,
                    f"metadata.{field} is required (the object lives outside the lab's namespace)",
                    f"metadata.{field}",
                    doc.line_of(("metadata",)),
                )
            )
    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and namespace and namespace != NAMESPACE:
        problems.append(
            errors.Problem(
                doc.file,
                f"must be {NAMESPACE!r} (got {namespace!r}): the operator manages kind-only objects "
                "there only, outside the lab's namespace that the learner owns",
                "metadata.namespace",
                doc.line_of(("metadata", "namespace")),
            )
        )
    if problems or plural is None:
        return None, problems
    return Manifest(doc.file, data, plural), []
