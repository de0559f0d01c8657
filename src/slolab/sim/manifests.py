"""Load the learner's workspace: every YAML file, validated as Kubernetes and as modelled.

Order of checks, each reporting every problem at once: YAML syntax; Kubernetes schema
(kubernetes-validate --strict, 1.36); fields the simulator does not model. Any problem is an
InputError naming file, line and field (exit code 2), before the simulation starts.
"""

from __future__ import annotations

from pathlib import Path

from slolab import errors, paths
from slolab.catalog import kindconfig, yamlfile
from slolab.sim import modelled

KUBE_VERSION = kindconfig.KUBERNETES_VERSION


def files(workspace: Path) -> list[Path]:
    """The manifest files of a workspace: top-level *.yaml / *.yml, sorted."""
    return sorted(
        p
        for p in workspace.iterdir()
        if p.is_file() and p.suffix in {".yaml", ".yml"} and not p.name.startswith(".")
    )


def load(workspace: Path) -> list[yamlfile.Document]:
    """Every object document of ``workspace``, validated; raises InputError listing all problems."""
    display_root = paths.relative(workspace)
    if not workspace.is_dir():
        raise errors.InputError(
            errors.Problem(display_root, "workspace folder not found"),
            f"Create it with `make lab NAME={workspace.name}`.",
        )
    docs: list[yamlfile.Document] = []
    problems: list[errors.Problem] = []
    for file in files(workspace):
        try:
            docs.extend(yamlfile.load_all(file, paths.relative(file)))
        except errors.InputError as exc:
            problems.extend(exc.problems)
    if not docs and not problems:
        raise errors.InputError(
            errors.Problem(display_root, "holds no Kubernetes manifests (*.yaml)"),
            f"Restore the lab's files with `make reset NAME={workspace.name}`.",
        )
    schema_problems: list[errors.Problem] = []
    for doc in docs:
        schema_problems.extend(_schema_problems(doc))
    problems.extend(schema_problems)
    if problems:
        raise errors.ManifestError(
            problems, "Fix the fields above; `kubectl explain <kind>.<field>` documents each one."
        )
    not_modelled: list[errors.Problem] = []
    for doc in docs:
        not_modelled.extend(modelled.check(doc))
    if not_modelled:
        raise errors.NotModelledError(
            not_modelled,
            "The simulator refuses what it cannot reproduce rather than ignore it. "
            "Remove those fields, or grade on a real cluster with BACKEND=kind.",
        )
    _check_unique(docs)
    return docs


def _schema_problems(doc: yamlfile.Document) -> list[errors.Problem]:
    data = doc.data
    if not isinstance(data, dict):
        return [errors.Problem(doc.file, "a document must be a mapping (an object)", line=doc.line_of(()))]
    missing = [f for f in ("apiVersion", "kind") if not data.get(f)]
    if not (data.get("metadata") or {}).get("name"):
        missing.append("metadata.name")
    if missing:
        return [
            errors.Problem(doc.file, "required field is missing", field=f, line=doc.line_of(()))
            for f in missing
        ]
    from slolab.catalog import k8svalidate  # jsonschema loads lazily

    return k8svalidate.validate(doc, KUBE_VERSION)


def _check_unique(docs: list[yamlfile.Document]) -> None:
    seen: dict[tuple[str, str, str], str] = {}
    problems = []
    for doc in docs:
        meta = doc.data.get("metadata") or {}
        key = (doc.data["kind"], meta.get("namespace") or "", meta["name"])
        if key in seen:
            problems.append(
                errors.Problem(
                    doc.file,
                    f"{key[0]} {key[2]!r} is also defined in {seen[key]}",
                    field="metadata.name",
                    line=doc.line_of(("metadata", "name")),
                )
            )
        seen[key] = doc.file
    if problems:
        raise errors.ManifestError(problems)
