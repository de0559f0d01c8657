"""highest_clean_rate: client p99 TTFT against the server's per-request log, step by step."""

from __future__ import annotations

import pytest

from slolab import errors
from slolab.load import cleanrate

pytestmark = pytest.mark.wallclock


def test_steps_up_while_clean_and_stops_at_the_first_unclean_step(ref_server):
    """Client and server p99 over the same requests; the tolerance decides where stepping stops."""
    server = ref_server(ttft_s=0.05, itl_s=0.01)
    kwargs = dict(rates_rps=(10.0, 20.0), step_s=1.5, budget_s=30.0, output_tokens=4)
    loose = cleanrate.highest_clean_rate(server.url, "ref", tolerance_s=0.05, **kwargs)
    assert [s.rate_rps for s in loose.steps] == [10.0, 20.0]
    for step in loose.steps:
        assert step.failed == 0 and step.compared == step.requests > 5
        assert 0.05 <= step.server_p99_ttft_s < 0.06
        assert 0 < step.difference_s < 0.05, step  # the client adds a little, never takes away
    assert loose.rate_rps == 20.0 and loose.stopped_because == "every rate was clean"

    exact = cleanrate.highest_clean_rate(server.url, "ref", tolerance_s=0.0, **kwargs)
    assert [s.rate_rps for s in exact.steps] == [10.0]
    assert exact.rate_rps == 0.0 and exact.stopped_because == "not clean at 10 req/s"


def test_the_budget_bounds_the_steps(ref_server):
    server = ref_server(ttft_s=0.05, itl_s=0.01)
    result = cleanrate.highest_clean_rate(server.url, "ref", rates_rps=(10.0,), step_s=30.0, budget_s=10.0)
    assert result.steps == [] and "budget" in result.stopped_because


def test_a_step_is_not_clean_when_requests_fail_or_p99s_disagree():
    base = dict(rate_rps=10.0, requests=10, compared=10, max_lag_s=0.0, cpu_warning=False)
    assert cleanrate.Step(**base, failed=0, client_p99_ttft_s=0.054, server_p99_ttft_s=0.050).clean(0.005)
    assert not cleanrate.Step(**base, failed=0, client_p99_ttft_s=0.056, server_p99_ttft_s=0.050).clean(0.005)
    assert not cleanrate.Step(**base, failed=1, client_p99_ttft_s=0.050, server_p99_ttft_s=0.050).clean(0.005)


def test_a_server_without_a_request_log_is_a_clear_error(closed_port_url):
    with pytest.raises(errors.BackendError, match="no per-request log at /slolab/requests"):
        cleanrate._server_log(closed_port_url, "x")
