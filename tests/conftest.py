"""Shared fixtures of slolab's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from _support import free_port

from slolab import errors, hostplatform, toolchain

pytest_plugins = ["pytester"]

#: markers that follow from a fixture a test uses (directly or through other fixtures), so that
#: they cannot go stale: a test that renders a chart needs helm, one that talks to a server on
#: 127.0.0.1 runs in real time. Modules that start servers themselves carry the mark explicitly.
MARK_BY_FIXTURE = {
    "helm": "helm",
    "live": "wallclock",
    "live_with": "wallclock",
    "serve_process": "wallclock",
    "ref_server": "wallclock",
    "emulator": "wallclock",  # the Kubernetes API emulator (tests/kube_emulator.py) on 127.0.0.1
    "mirror": "wallclock",  # tests/test_hostplatform.py's download mirror on 127.0.0.1
    "prometheus": "wallclock",  # a real Prometheus on 127.0.0.1 (promql conformance, e2e)
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            mark = MARK_BY_FIXTURE.get(fixture)
            if mark is not None and item.get_closest_marker(mark) is None:
                item.add_marker(mark)


@pytest.fixture(scope="session")
def helm() -> Path:
    """helm v4 in .tools/bin (installed by `make setup`; fetched here if missing)."""
    toolchain.ensure(("helm",), quiet=True)
    return toolchain.helm_path()


@pytest.fixture(autouse=True)
def _fresh_catalog_caches():
    """catalog loaders are cached per process; tests that point SLOLAB_ROOT elsewhere need a reset."""
    from slolab.catalog import lab, scenario

    yield
    lab.load.cache_clear()
    scenario.load.cache_clear()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port bound, then released)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def tools_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty slolab root on a linux/amd64 host, nothing on PATH, no download allowed.

    Tests of other platforms pin ``hostplatform.host`` themselves."""
    for d in ("labs", "scenarios", "charts", "empty-path"):
        (tmp_path / d).mkdir()
    monkeypatch.setenv("SLOLAB_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setattr(hostplatform, "host", lambda: hostplatform.Platform("linux", "amd64"))

    def no_download(cache: Path | None = None) -> Path:
        raise errors.ToolError("✗ test: ensure() must not download here")

    monkeypatch.setattr(toolchain, "download_wheel", no_download)
    return tmp_path
