"""The file sets of a lab: the fault (what the learner starts from), the reference solution,
the other correct fixes (alternatives/), and each mutation of the solution (the lab
contract's mutation matrix).

All are plain ``{file name: YAML text}`` maps, rendered from the scenario's chart with the
scenario's values and the fault's values layered on top, plus the fault's own manifests
(``fault.manifests``) copied as they are. :func:`release_values` is the same starting state as
the values of one Helm release, which the operator installs on kind and cluster: there the
fault's manifests travel in the chart's ``extraObjects``.
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


def _layers(lab: lab_mod.Lab, scenario: scenario_mod.Scenario) -> list[dict]:
    """The chart values of the starting state, in order: the scenario's, then the fault's."""
    return [_values(scenario.directory / scenario.values), _values(lab.directory / lab.fault.values)]


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
        _layers(lab, scenario),
        release="llm", namespace=f"lab-{lab.name}", header=header,
        source=f"scenarios/{scenario.name}/{scenario.values} + labs/{lab.name}/{lab.fault.values}",
    )
    rendered = {f.name for f in files}
    extra = []
    for i, manifest in enumerate(lab.fault_manifests()):
        if manifest.name in rendered:
            raise errors.CatalogError(
                errors.Problem(
                    f"labs/{lab.name}/lab.yaml",
                    f"{manifest.file} would replace the chart's {manifest.name} in the workspace; rename it",
                    field=f"fault.manifests[{i}]",
                )
            )
        extra.append((manifest.name, manifest.text))
    return (*((f.name, f.text) for f in files), *extra)


def release_values(lab: lab_mod.Lab) -> dict:
    """The values of the lab's starting state as one Helm release, the way the operator installs it
    on kind and cluster: the scenario's values, the fault's on top, and the objects of the fault's
    own manifests (``fault.manifests``) appended to the chart's ``extraObjects``, so the release
    holds them too (a reset restores them, deleting the release removes them). The simulator's
    workspace has the same objects: rendered from the same layers, the manifests copied as files."""
    scenario = scenario_mod.load(lab.scenario)
    values = render.merge_values(*_layers(lab, scenario))
    objects = [copy.deepcopy(o) for m in lab.fault_manifests() for o in m.objects]
    if objects:
        values["extraObjects"] = [*(values.get("extraObjects") or []), *objects]
    return values


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


def alternative_files(lab: lab_mod.Lab) -> dict[str, Files]:
    """The other correct fixes of the lab, by name: each folder of labs/<name>/alternatives/
    holds the files of one fix, put in place of the reference solution's files of the same
    names (a file the solution lacks is added). Every one must pass every check, as the solution
    does (the lab contract). No folder: no alternatives; a loose YAML file there is an error."""
    folder = lab.alternatives_dir
    if not folder.is_dir():
        return {}
    loose = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
    if loose:
        raise errors.CatalogError(
            errors.Problem(paths.relative(folder / loose[0]), "a fix outside a folder of its own"),
            f"Move it to labs/{lab.name}/alternatives/<fix name>/{loose[0]}: each folder there is one "
            "correct fix, laid over solution/.",
        )
    out: dict[str, Files] = {}
    for fix in sorted(p for p in folder.iterdir() if p.is_dir()):
        manifests = sorted(fix.glob("*.yaml"))
        if not manifests:
            raise errors.CatalogError(errors.Problem(paths.relative(fix), "no *.yaml files in this fix"))
        files = solution_files(lab)
        files.update({f.name: f.read_text(encoding="utf-8") for f in manifests})
        out[fix.name] = files
    return out


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
