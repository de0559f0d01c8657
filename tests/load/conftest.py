"""Fixtures of the load-generator tests: a fixed-latency server on 127.0.0.1 and small profiles."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from slolab.catalog import scenario as scenario_mod
from slolab.catalog import schema
from slolab.load import refserver


def constant(value: float) -> schema.Distribution:
    return schema.Distribution(distribution="constant", value=float(value))


def make_traffic(
    rate_rps: float,
    *,
    prompt_tokens: schema.Distribution | None = None,
    output_tokens: int = 8,
    timeout_s: float = 10.0,
    duration_s: float | None = None,
) -> scenario_mod.TrafficProfile:
    """A traffic profile with constant lengths unless told otherwise."""
    return scenario_mod.TrafficProfile(
        rate_rps=rate_rps,
        prompt_tokens=prompt_tokens or constant(16),
        output_tokens=constant(output_tokens),
        timeout_s=timeout_s,
        duration_s=duration_s,
    )


@pytest.fixture
def traffic() -> Callable[..., scenario_mod.TrafficProfile]:
    """Factory: ``traffic(rate_rps, output_tokens=8, timeout_s=10, duration_s=None)``, constant lengths."""
    return make_traffic


@pytest.fixture
def ref_server() -> Iterator[Callable[..., refserver.RefServer]]:
    """Factory: ``ref_server(ttft_s=0.05, itl_s=0.01, ...)`` on a free port, stopped after the test."""
    started: list[refserver.RefServer] = []

    def make(**kwargs: object) -> refserver.RefServer:
        server = refserver.RefServer(**kwargs)  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
