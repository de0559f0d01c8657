"""A lab's plain fault manifests (lab.yaml ``fault.manifests``): load and check them.

Some of a lab's broken starting state is workloads the serving chart does not render:
gpu-taints' NVIDIA device plugin DaemonSet and its CPU batch Deployment. Each entry of
``fault.manifests`` is a file relative to the lab's folder. On the simulator the file is copied
into the workspace as it is, comments kept (slolab.workspace.variants); on kind and cluster the
operator installs its objects inside the lab's Helm release, as the llm-serving chart's
``extraObjects`` (variants.release_values), so a reset restores them and deleting the Lab
removes them with the release.

So each document must be an object the operator's RBAC lets it install in the lab's namespace:
one of :data:`KINDS` (the lab ClusterRole of charts/slolab-operator allows exactly these), with a
``metadata.name``, and no ``metadata.namespace`` other than the lab's own, ``lab-<name>`` (the
operator may write only there). Problems name lab.yaml, the field ``fault.manifests[i]`` and its
line, and say which document of which file is wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from slolab import errors, paths
from slolab.catalog import yamlfile

#: (apiVersion, kind) -> the resource's plural, as the API paths and RBAC rules name it.
KINDS: dict[tuple[str, str], str] = {
    ("apps/v1", "DaemonSet"): "daemonsets",
    ("apps/v1", "Deployment"): "deployments",
}


@dataclasses.dataclass(frozen=True)
class Manifest:
    """One file of ``fault.manifests``: its name in the workspace, its text, its objects."""

    file: str  # where it is, relative to the project (labs/<lab>/fault/x.yaml)
    name: str  # the workspace file it becomes (x.yaml)
    text: str  # the file as written, comments kept
    objects: tuple[dict[str, Any], ...]


def namespace_of(lab: str) -> str:
    """The namespace a lab runs in on kind and cluster."""
    return f"lab-{lab}"


def load(
    lab: str, directory: Path, files: list[str], field_lines: list[int | None], source: str
) -> list[Manifest]:
    """The manifests of ``files`` (relative to the lab's ``directory``); CatalogError with every problem.

    ``field_lines``: the line of each entry of ``fault.manifests`` in ``source`` (lab.yaml)."""
    problems: list[errors.Problem] = []
    out: list[Manifest] = []
    base = directory.resolve()
    seen: dict[str, int] = {}
    for i, (name, line) in enumerate(zip(files, field_lines, strict=True)):
        field = f"fault.manifests[{i}]"

        def problem(message: str, *, field: str = field, line: int | None = line) -> None:
            problems.append(errors.Problem(source, message, field, line))

        path = (directory / name).resolve()
        if Path(name).is_absolute() or not path.is_relative_to(base):
            problem(f"{name!r} is outside the lab's folder")
            continue
        if not path.is_file():
            problem(f"no file {name!r} in the lab's folder")
            continue
        if path.name in seen:
            problem(
                f"{name!r} becomes workspace file {path.name}, as fault.manifests[{seen[path.name]}] does; "
                "rename one of them"
            )
            continue
        seen[path.name] = i
        display = paths.relative(path)
        try:
            docs = [d for d in yamlfile.load_all(path, display) if d.data is not None]
        except errors.InputError as exc:
            problems.extend(exc.problems)
            continue
        if not docs:
            problem(f"{name!r} holds no object")
            continue
        found = [message for doc in docs for message in _check(doc, namespace_of(lab))]
        for message in found:
            problem(message)
        if not found:
            text = path.read_text(encoding="utf-8")
            out.append(Manifest(display, path.name, text, tuple(d.data for d in docs)))
    if problems:
        raise errors.CatalogError(problems, "Fix the lab.yaml entry or the file it names; then `make lint`.")
    return out


def _check(doc: yamlfile.Document, namespace: str) -> list[str]:
    """What is wrong with one document, each message naming the file, line and field."""
    data = doc.data

    def where(*path: str) -> str:
        line = doc.line_of(path)
        return f"{doc.file}{'' if line is None else f':{line}'}"

    if not isinstance(data, dict):
        return [f"{where()}: must be a Kubernetes object (a mapping)"]
    found: list[str] = []
    key = (data.get("apiVersion"), data.get("kind"))
    if key not in KINDS:
        known = ", ".join(f"{v} {k}" for v, k in KINDS)
        found.append(
            f"{where('kind')}: kind: {key[0]} {key[1]} cannot be a fault manifest (the operator installs "
            f"these in the lab's Helm release and its RBAC allows only: {known})"
        )
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    if not isinstance(metadata.get("name"), str) or not metadata.get("name"):
        found.append(f"{where('metadata')}: metadata.name is required")
    given = metadata.get("namespace")
    if given is not None and given != namespace:
        found.append(
            f"{where('metadata', 'namespace')}: metadata.namespace must be left out or be {namespace!r} "
            f"(got {given!r}): the lab's objects live in its own namespace"
        )
    return found
