"""ProcessLoad, the Load protocol of real backends: start, SIGTERM stop with drain, the RequestLog."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from slolab.load import process, requestlog

# Wall-clock measurements on a shared 2-core machine: a CPU stall elsewhere can spoil one run.
# A failure must repeat in three runs to count (pytest-rerunfailures).
pytestmark = [pytest.mark.wallclock, pytest.mark.flaky(reruns=2)]


class Scenario:
    """The one thing ProcessLoad asks of a scenario: its traffic profiles by name."""

    def __init__(self, **profiles) -> None:
        self.traffic = profiles

    def profile(self, name: str):
        return self.traffic[name]


def test_stop_ends_arrivals_at_once_and_drains_what_is_in_flight(ref_server, traffic):
    server = ref_server(ttft_s=0.05, itl_s=0.01)
    clock = process.WallClock()
    load = process.ProcessLoad(server.url, "ref", Scenario(steady=traffic(50.0)), seed=7, clock=clock)
    try:
        before = clock.now_s()
        handle = load.start("steady")
        assert before <= handle.started_s <= clock.now_s()
        clock.sleep(1.5)
        stop_at = clock.now_s()
        log = load.stop(handle, drain_s=5.0)
        stop_took = clock.now_s() - stop_at
    finally:
        load.close()
    assert isinstance(log, requestlog.RequestLog) and load.logs == [log]
    assert stop_took < 1.0  # requests take 0.12 s: the drain ends when they are done, not at 5 s
    assert abs(log.stopped_s - stop_at) < 0.2
    assert 75 - 4 * 75**0.5 < len(log) < 75 + 4 * 75**0.5
    assert all(log.started_s <= r.arrival_s < log.stopped_s for r in log)
    assert len(log.ok()) == len(log)
    assert len(server.served) == len(log)
    for req in log:
        assert req.profile == "steady" and req.id >= 10_000_000
        assert len(req.token_times_s) == 8 and req.output_tokens == 8
        assert req.ttft_s >= 0.05  # the server waits 50 ms before the first token
        assert len(req.inter_token_gaps_s()) == 7
    # the client adds little: judged on quantiles, since one request can meet a CPU stall
    assert 0.05 <= log.ttft_quantile_s(0.5) < 0.06
    assert log.ttft_quantile_s(0.95) < 0.07


def test_a_short_drain_leaves_requests_in_flight_with_their_tokens_so_far(ref_server, traffic):
    server = ref_server(ttft_s=0.05, itl_s=0.5)  # 8 tokens take 3.55 s
    load = process.ProcessLoad(server.url, "ref", Scenario(slow=traffic(20.0)), seed=1)
    try:
        handle = load.start("slow")
        time.sleep(0.5)
        t = time.monotonic()
        log = load.stop(handle, drain_s=0.3)
        took = time.monotonic() - t
    finally:
        load.close()
    assert took < 3.0
    assert len(log) > 0 and log.completed() == []
    assert all(r.status is None and r.error is None for r in log)
    assert any(r.first_token_s is not None and 1 <= len(r.token_times_s) < 8 for r in log)


def test_so_far_reads_the_finished_requests_while_the_load_runs(ref_server, traffic):
    # what a game day's stop condition reads every 15 s on kind (slolab.gameday.stop)
    server = ref_server(ttft_s=0.05, itl_s=0.01)
    clock = process.WallClock()
    load = process.ProcessLoad(server.url, "ref", Scenario(steady=traffic(50.0)), seed=7, clock=clock)
    try:
        handle = load.start("steady")
        clock.sleep(1.0)
        first = load.so_far(handle)
        assert handle.generator.running()  # the peek stopped nothing
        clock.sleep(1.0)
        second = load.so_far(handle)
        log = load.stop(handle, drain_s=5.0)
    finally:
        load.close()
    # requests take 0.12 s: a second of 50 req/s has finished about 44 by then, each line whole
    assert 20 < len(first) < len(second) <= len(log)
    assert second[: len(first)] == first  # each peek adds what finished since the last one
    assert all(r.ok and r.finish_s is not None and r.finish_s <= clock.now_s() for r in second)
    by_id = {r.id: r for r in log}
    for r in second:  # on the backend's clock, as the log that stop() returns
        assert r.profile == "steady" and abs(by_id[r.id].arrival_s - r.arrival_s) < 1e-5


def test_a_second_run_of_a_profile_gets_the_next_seed(closed_port_url, traffic):
    load = process.ProcessLoad(closed_port_url, "ref", Scenario(p=traffic(40.0, duration_s=0.5)), seed=3)
    try:
        first = load.run("p", 0.6)
        second = load.run("p", 0.6)
    finally:
        load.close()
    offsets = [[round(r.arrival_s - log.started_s, 1) for r in log] for log in (first, second)]
    assert first.requests and second.requests and offsets[0] != offsets[1]
    assert {r.error for r in first} == {"connection refused"}


def test_the_grader_side_imports_neither_locust_nor_gevent():
    code = (
        "import sys\n"
        "from slolab.load import process, cleanrate, record, refserver\n"
        "from slolab.run import schedule\n"
        "from slolab.metrics import query, local\n"
        "banned = ('locust', 'gevent', 'geventhttpclient')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
