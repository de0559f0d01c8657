"""Shared fixtures of slolab's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from _support import free_port

from slolab import toolchain

pytest_plugins = ["pytester"]


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
