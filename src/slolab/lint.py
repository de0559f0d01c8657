"""``make lint`` beyond ruff: the charts and everything they and the labs render.

1. Every chart under charts/ passes ``helm lint --strict``, with its defaults and with each
   ``ci/*-values.yaml`` (the chart-testing convention: one values file per behaviour).
2. Every manifest those renders produce, and every manifest any lab renders (fault, solution
   and each mutation), passes kubernetes-validate --strict for Kubernetes 1.36 (core kinds).
3. Custom resources (KEDA, Argo Rollouts, prometheus-operator, Chaos Mesh kinds) have no schema
   in kubernetes-validate; they are listed by kind, and tests/test_crd_conformance.py validates
   them against the upstream CRDs.

A chart that pins dependencies in its Chart.yaml (slolab-platform) cannot be linted or rendered
by helm v4 until ``helm dependency build`` has fetched them: ``helm lint`` warns "chart directory
is missing these dependencies" (an error under --strict) and ``helm template`` refuses the chart
whatever the dependencies' conditions say. Without network the subcharts cannot be fetched, so
such a chart is linted and rendered as a copy without its ``dependencies:`` list, which still
checks its own templates, values and schema, and the output says which subcharts were left out.
Once they are fetched (``make cluster`` runs ``helm dependency build``) the chart is used as is.
"""

from __future__ import annotations

import collections
import contextlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml
from rich.console import Console

from slolab import errors, paths, toolchain
from slolab.catalog import k8svalidate, yamlfile
from slolab.catalog import lab as lab_mod
from slolab.workspace import variants

KUBE_VERSION = k8svalidate.DEFAULT_KUBE_VERSION
HELM_TIMEOUT_S = 120
_SOURCE = re.compile(r"^# Source: (?P<path>\S+)\s*$")


# -- charts ----------------------------------------------------------------------------------


def charts() -> list[Path]:
    """Every chart directory under charts/."""
    return sorted(p.parent for p in paths.charts_dir().glob("*/Chart.yaml"))


def ci_values(chart: Path) -> list[Path]:
    """The chart's ``ci/*-values.yaml`` files, in order."""
    return sorted((chart / "ci").glob("*-values.yaml"))


def _helm(*argv: str) -> subprocess.CompletedProcess[str]:
    helm = str(toolchain.helm_path())
    try:
        return subprocess.run(
            [helm, *argv], capture_output=True, text=True, timeout=HELM_TIMEOUT_S, check=False
        )
    except OSError as exc:
        raise errors.ToolError(f"✗ Cannot run helm ({helm}): {exc}", toolchain.SETUP_HINT) from exc
    except subprocess.TimeoutExpired as exc:
        raise errors.ToolError(
            f"✗ helm {' '.join(argv[:2])} did not finish within {HELM_TIMEOUT_S} s.", "Run it again."
        ) from exc


def missing_dependencies(chart: Path) -> list[str]:
    """The dependencies in ``chart``'s Chart.yaml that helm cannot use yet (not fetched, or the
    wrong version), by helm's own ``helm dependency list``; [] for a chart without any."""
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8")) or {}
    if not metadata.get("dependencies"):
        return []
    proc = _helm("dependency", "list", str(chart))
    if proc.returncode != 0:
        message = f"✗ helm dependency list {paths.relative(chart)} failed: {proc.stderr.strip()}"
        raise errors.ToolError(message, toolchain.SETUP_HINT)
    missing = []
    for line in proc.stdout.splitlines()[1:]:
        columns = line.split("\t")
        if len(columns) >= 4 and columns[-1].strip() != "ok":
            missing.append(columns[0].strip())
    return missing


@contextlib.contextmanager
def usable_chart(chart: Path) -> Iterator[tuple[Path, list[str]]]:
    """(a directory helm can lint and template, the dependencies left out of it).

    ``chart`` itself when its dependencies are fetched; otherwise a temporary copy whose
    Chart.yaml has no ``dependencies:`` (and with no ``charts/``), removed afterwards.
    """
    missing = missing_dependencies(chart)
    if not missing:
        yield chart, []
        return
    with tempfile.TemporaryDirectory(prefix="slolab-lint-") as tmp:
        copy = Path(tmp) / chart.name
        shutil.copytree(chart, copy, ignore=lambda d, names: ["charts"] if Path(d) == chart else [])
        metadata = yaml.safe_load((copy / "Chart.yaml").read_text(encoding="utf-8"))
        metadata.pop("dependencies", None)
        (copy / "Chart.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False), encoding="utf-8")
        yield copy, missing


def helm_lint(chart_dir: Path, values: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``helm lint --strict`` of ``chart_dir``, with ``values`` when given."""
    return _helm("lint", "--strict", str(chart_dir), *(["--values", str(values)] if values else []))


def render(
    chart_dir: Path,
    values: Path | None = None,
    *,
    release: str | None = None,
    namespace: str = "slolab-lint",
    display: str | None = None,
) -> list[yamlfile.Document]:
    """``helm template`` of ``chart_dir`` as documents that name their template and line.

    ``display`` prefixes each document's file name (default ``charts/<chart>``); a chart that
    refuses the values is an InputError with helm's message.
    """
    argv = ["template", release or chart_dir.name, str(chart_dir), "--namespace", namespace]
    proc = _helm(*argv, *(["--values", str(values)] if values else []))
    prefix = display or f"charts/{chart_dir.name}"
    if proc.returncode != 0:
        where = f"{prefix} with {values.name}" if values else prefix
        message = proc.stderr.split("\n\nUse --debug", 1)[0].strip().removeprefix("Error: ")
        raise errors.InputError(errors.Problem(where, message))
    sections: dict[str, list[str]] = collections.defaultdict(list)
    current: list[str] | None = None
    for line in proc.stdout.splitlines():
        match = _SOURCE.match(line)
        if match:
            current = sections[match["path"].split("/", 1)[-1]]
            current.append("---")
        elif current is not None:
            current.append(line)
    docs: list[yamlfile.Document] = []
    with tempfile.TemporaryDirectory(prefix="slolab-render-") as tmp:
        for i, (template, lines) in enumerate(sections.items()):
            file = Path(tmp) / f"{i}.yaml"
            file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            case = f" ({values.name})" if values else ""
            docs.extend(yamlfile.load_all(file, f"{prefix}/{template}{case}"))
    return docs


def is_custom_resource(doc: yamlfile.Document) -> bool:
    """Whether ``doc`` is of a kind kubernetes-validate has no schema for (a custom resource)."""
    data = doc.data
    if not isinstance(data, dict) or not data.get("kind") or not data.get("apiVersion"):
        return False
    return not k8svalidate.has_schema(str(data["kind"]), str(data["apiVersion"]), KUBE_VERSION)


def _validate(docs: list[yamlfile.Document], custom: collections.Counter[str]) -> list[errors.Problem]:
    problems: list[errors.Problem] = []
    for doc in docs:
        if is_custom_resource(doc):
            custom[f"{doc.data['kind']} ({doc.data['apiVersion']})"] += 1
        problems.extend(k8svalidate.validate(doc, KUBE_VERSION))
    return problems


def _summary(docs: list[yamlfile.Document]) -> str:
    n_custom = sum(is_custom_resource(d) for d in docs)
    n_core = len(docs) - n_custom
    text = f"{n_core} object{'s' * (n_core != 1)} valid for Kubernetes {KUBE_VERSION} (strict)"
    if n_custom:
        text += f", {n_custom} custom resource{'s' * (n_custom != 1)}"
    return text


def lint_charts(console: Console, custom: collections.Counter[str]) -> int:
    """helm lint --strict and strict validation of the renders of every chart and ci/ case."""
    failures = 0
    for chart in charts():
        name = paths.relative(chart)
        with usable_chart(chart) as (chart_dir, left_out):
            if left_out:
                console.print(
                    f"  {name}: its dependencies are not fetched ({', '.join(left_out)}); linted without "
                    f"them. `helm dependency build {name}` fetches them (make cluster runs it)."
                )
            for values in [None, *ci_values(chart)]:
                case = f" -f ci/{values.name}" if values else ""
                proc = helm_lint(chart_dir, values)
                problems: list[errors.Problem] = []
                try:
                    docs = render(chart_dir, values, display=name)
                    problems = _validate(docs, custom)
                except errors.InputError as exc:
                    docs, problems = [], exc.problems
                ok = proc.returncode == 0 and not problems
                console.print(
                    f"✓ helm lint --strict {name}{case}; {_summary(docs)}" if ok else f"✗ {name}{case}:"
                )
                if proc.returncode != 0:
                    console.print(proc.stdout + proc.stderr)
                for p in problems:
                    console.print(f"  {p}")
                failures += not ok
    return failures


def lint_labs(console: Console, custom: collections.Counter[str]) -> int:
    """Strict validation of every file set of every lab."""
    failures = 0
    for name in lab_mod.names():
        lab = lab_mod.load(name)
        sets = {"fault": variants.fault_files(lab), "solution": variants.solution_files(lab)}
        for m in lab.mutations:
            sets[f"mutation {m.id}"] = variants.mutation_files(lab, m)
        for label, files in sets.items():
            problems: list[errors.Problem] = []
            with tempfile.TemporaryDirectory() as tmp:
                for fname, text in files.items():
                    path = Path(tmp) / fname
                    path.write_text(text, encoding="utf-8")
                    problems.extend(_validate(yamlfile.load_all(path, f"{name} {label}: {fname}"), custom))
            mark = "✗" if problems else "✓"
            console.print(
                f"{mark} {name} {label}: {len(files)} files valid for Kubernetes {KUBE_VERSION} (strict)"
                if not problems
                else f"{mark} {name} {label}:"
            )
            for p in problems:
                console.print(f"  {p}")
            failures += bool(problems)
    return failures


def run(console: Console) -> int:
    """Exit code 0 when everything is clean, 1 otherwise."""
    custom: collections.Counter[str] = collections.Counter()
    failures = lint_charts(console, custom) + lint_labs(console, custom)
    if custom:
        kinds = ", ".join(f"{kind} ×{n}" for kind, n in sorted(custom.items()))
        console.print(
            f"  Custom resources, not in kubernetes-validate's schemas: {kinds}.\n"
            "  tests/test_crd_conformance.py validates them against the upstream CRDs."
        )
    if failures:
        console.print(f"✗ {failures} lint failure(s).")
        return 1
    console.print("✓ Charts and rendered manifests are clean.")
    return 0
