"""The oldest version pyproject.toml allows of each dependency the kube path calls directly
still works: it is installed on its own (pip --target, with the dependencies it declares) in
front of the environment's copy, and the tests that exercise that dependency run against it.

This is what caught ``kubernetes>=30``: kube/client.py calls ApiClient.param_serialize and the
call_api(method, url, ...) signature, which exist only from kubernetes 37, so every API call of
the kind and cluster backends failed with AttributeError on 30–36. Needs PyPI (as `make setup`).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from slolab import paths

# installs old releases from PyPI, then runs whole test modules (loopback servers among them) on them
pytestmark = [pytest.mark.slow, pytest.mark.wallclock]

#: dependency → the tests that exercise the code calling it directly
CASES: dict[str, list[str]] = {
    "kubernetes": ["tests/kube/test_client.py", "tests/kube/test_observe.py", "tests/kube/test_backend.py"],
    "prometheus-api-client": ["tests/metrics/test_metrics_prometheus.py"],
    "kopf": ["tests/operator/test_operator_units.py"],
    "pyhelm3": ["tests/test_workspace.py"],
    "locust": ["tests/load/test_load_process.py"],
}


def requirement(name: str) -> Requirement:
    project = tomllib.loads((paths.root() / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for text in project["dependencies"]:
        req = Requirement(text)
        if req.name == name:
            assert any(s.operator == ">=" for s in req.specifier), f"pyproject.toml: {name} has no >= bound"
            return req
    raise AssertionError(f"pyproject.toml does not depend on {name}")


def oldest_allowed(req: Requirement) -> str:
    """The oldest release on the index that the requirement admits (what `>=` really means)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", req.name, "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("Available versions:")), None)
    assert line, f"pip index versions {req.name} failed:\n{proc.stderr[-1500:]}"
    releases = [Version(v.strip()) for v in line.split(":", 1)[1].split(",")]
    allowed = [v for v in releases if not v.is_prerelease and req.specifier.contains(v)]
    assert allowed, f"no release of {req.name} satisfies {req.specifier}"
    return str(min(allowed))


@pytest.mark.parametrize("name", sorted(CASES))
def test_oldest_allowed_version_passes_its_tests(name: str, tmp_path: Path) -> None:
    oldest = oldest_allowed(requirement(name))
    installed = importlib.metadata.version(name)
    if Version(installed) == Version(oldest):
        pytest.skip(f"{name} {installed} installed is the oldest allowed: the suite itself runs it")
    target = tmp_path / "oldest"
    # with the dependencies that version declares (an old release may need ones the new one dropped)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(
        [*pip, "--target", str(target), f"{name}=={oldest}"], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"pip could not install {name}=={oldest}:\n{proc.stderr[-2000:]}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    check = subprocess.run(
        [sys.executable, "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert Version(check.stdout.strip() or "0") == Version(oldest), (
        f"the old {name} was not picked up: {check.stdout} {check.stderr}"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *CASES[name]],
        capture_output=True,
        text=True,
        env=env,
        cwd=paths.root(),
        timeout=900,
    )
    tail = "\n".join(run.stdout.splitlines()[-25:])
    assert run.returncode == 0, f"{name}=={oldest} (the oldest pyproject.toml allows) fails:\n{tail}"
    assert " passed" in tail, f"no test ran against {name}=={oldest}:\n{tail}"
