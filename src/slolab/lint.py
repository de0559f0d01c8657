"""``make lint`` beyond ruff: every chart with ``helm lint --strict``, and every manifest any lab
renders (fault, solution and each mutation) through kubernetes-validate --strict for 1.35."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from rich.console import Console

from slolab import errors, paths, toolchain
from slolab.catalog import k8svalidate, yamlfile
from slolab.catalog import lab as lab_mod
from slolab.workspace import variants

KUBE_VERSION = "1.35.0"


def lint_charts(console: Console) -> int:
    helm = str(toolchain.helm_path())
    failures = 0
    for chart in sorted(p.parent for p in paths.charts_dir().glob("*/Chart.yaml")):
        proc = subprocess.run([helm, "lint", "--strict", str(chart)], capture_output=True, text=True)
        ok = proc.returncode == 0
        console.print(f"{'✓' if ok else '✗'} helm lint --strict {paths.relative(chart)}")
        if not ok:
            failures += 1
            console.print(proc.stdout + proc.stderr)
    return failures


def lint_labs(console: Console) -> int:
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
                    for doc in yamlfile.load_all(path, f"{name} {label}: {fname}"):
                        problems.extend(k8svalidate.validate(doc, KUBE_VERSION))
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
    failures = lint_charts(console) + lint_labs(console)
    if failures:
        console.print(f"✗ {failures} lint failure(s).")
        return 1
    console.print("✓ Charts and rendered manifests are clean.")
    return 0
