"""The file sets of a lab: the fault (what the learner starts from), the reference solution,
and each mutation of the solution (the lab contract's mutation matrix).

All are plain ``{file name: YAML text}`` maps, rendered from the scenario's chart with the
scenario's values and the fault's values layered on top.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import jsonpatch
import yaml

from slolab import errors, paths
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import yamlfile
from slolab.workspace import render

Files = dict[str, str]


def _values(file: Path) -> dict:
    doc = yamlfile.load_one(file, paths.relative(file))
    return doc.data


@functools.cache
def _fault(lab_name: str) -> tuple[tuple[str, str], ...]:
    lab = lab_mod.load(lab_name)
    scenario = scenario_mod.load(lab.scenario)
    header = (
        f"Lab {lab.name}: rendered by slolab from charts/{{chart}} ({{template}}) with the values of\n"
        f"scenarios/{scenario.name}/ and the lab's starting state. Edit it with any tool you like;\n"
        f"`make grade NAME={lab.name}` judges what it does. `make reset NAME={lab.name}` restores it."
    )
    files = render.render(
        scenario.components.serving.chart,
        [_values(scenario.directory / scenario.values), _values(lab.directory / lab.fault.values)],
        release="llm", namespace=f"lab-{lab.name}", header=header,
        source=f"scenarios/{scenario.name}/{scenario.values} + labs/{lab.name}/{lab.fault.values}",
    )
    extra = []
    for rel in lab.fault.manifests:
        file = lab.directory / rel
        if not file.is_file():
            raise errors.CatalogError(
                errors.Problem(f"labs/{lab.name}/lab.yaml", f"no file {rel!r} in the lab", field="fault.manifests")
            )
        extra.append((file.name, file.read_text(encoding="utf-8")))
    return (*((f.name, f.text) for f in files), *extra)


def fault_files(lab: lab_mod.Lab) -> Files:
    """The starting workspace: the chart rendered with the scenario's and the fault's values, and
    the fault's own manifests (``fault.manifests``)."""
    return dict(_fault(lab.name))


def solution_files(lab: lab_mod.Lab) -> Files:
    """The fault's files with the reference solution's files put in their place."""
    files = fault_files(lab)
    if not lab.solution_dir.is_dir():
        raise errors.CatalogError(errors.Problem(paths.relative(lab.solution_dir), "solution folder not found"))
    for file in sorted(lab.solution_dir.glob("*.yaml")):
        files[file.name] = file.read_text(encoding="utf-8")
    return files


def mutation_files(lab: lab_mod.Lab, mutation: lab_mod.Mutation) -> Files:
    """The solution with ``mutation``'s JSON Patch operations applied."""
    files = solution_files(lab)
    where = f"labs/{lab.name}/lab.yaml mutations[{mutation.id}]"
    by_file: dict[str, list[lab_mod.PatchOp]] = {}
    for op in mutation.patch:
        by_file.setdefault(op.file, []).append(op)
    for name, ops in by_file.items():
        if name not in files:
            raise errors.CatalogError(errors.Problem(where, f"no file {name!r} in the solution", field="patch.file"))
        docs = [d for d in yaml.safe_load_all(files[name]) if d is not None]
        for op in ops:
            target = next((d for d in docs if d.get("kind") == op.kind
                           and (d.get("metadata") or {}).get("name") == op.name), None)
            if target is None:
                raise errors.CatalogError(errors.Problem(where, f"no {op.kind} {op.name!r} in {name}", field="patch"))
            patch = {"op": op.op, "path": op.path}
            if op.op != "remove":
                patch["value"] = copy.deepcopy(op.value)
            try:
                patched = jsonpatch.apply_patch(target, [patch])
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise errors.CatalogError(errors.Problem(where, f"{op.op} {op.path}: {exc}", field="patch")) from None
            docs[docs.index(target)] = patched
        files[name] = f"# {lab.name} mutation {mutation.id}: {mutation.description}\n" + yaml.safe_dump_all(
            docs, sort_keys=False)
    return files


def write(files: Files, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
