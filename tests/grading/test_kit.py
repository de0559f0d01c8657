"""The grader kit's pieces without pytest in between: wait_serving, load windows, lab.prom."""

from __future__ import annotations

import pytest

from slolab import errors
from slolab.backends import fake, fakescript, kubeprom
from slolab.catalog import lab as lab_mod
from slolab.grading import loadwindow, serving
from slolab.run import timeline

TARGET = lab_mod.Target(deployment="llm", service="llm")


def workload(**pod) -> fakescript.Workload:
    """Three pods created at 0 s, Ready 96 s later (model load 90 s)."""
    return fakescript.Workload(pods=[fakescript.Pod(name, 0.0, **pod) for name in "abc"])


@pytest.fixture
def demo(slolab_root) -> lab_mod.Lab:
    return lab_mod.load("demo")


# ---- wait_serving ---------------------------------------------------------------------------


def test_serving_once_rolled_out_loaded_and_routed(demo) -> None:
    backend = workload().backend(demo)
    said: list[str] = []
    result = serving.wait(backend, TARGET, timeout_s=300, say=said.append)
    assert result and result.waited_s == 96 and backend.clock.now_s() == 96
    assert said == ["✓ Deployment llm serving after 96 s"]
    assert str(result.state) == (
        "Deployment llm: 3/3 updated, 3/3 available, 3 pods; 3/3 pods serving; Service llm: 3 ready endpoints"
    )


def test_not_serving_while_the_rollout_is_incomplete(demo) -> None:
    backend = workload().backend(demo)
    backend.clock.t_s = 50
    state = serving.observe(backend, TARGET)
    assert not state.serving and not state.complete and state.pods is None
    assert str(state) == "Deployment llm: 3/3 updated, 0/3 available, 3 pods"


def test_ready_is_not_serving_before_the_model_loaded(demo) -> None:
    # Ready 5 s after the container started (a probe that checks nothing), model loaded at 91 s
    backend = workload(ready_delay_s=-85.0).backend(demo)
    backend.clock.t_s = 10
    state = serving.observe(backend, TARGET)
    assert state.complete and state.pods == 3 and state.pods_serving == 0 and not state.serving
    backend.clock.t_s = 91
    assert serving.observe(backend, TARGET).serving


def test_a_service_without_ready_endpoints_does_not_serve(demo) -> None:
    backend = fakescript.Workload(service="other", pods=[fakescript.Pod("a", 0.0)], replicas=1).backend(demo)
    backend.clock.t_s = 100
    state = serving.observe(backend, TARGET)  # TARGET's Service is "llm": no Endpoints object
    assert state.complete and state.pods_serving == 1 and state.endpoints_ready == 0 and not state.serving


def test_a_wait_gives_up_at_its_deadline_and_says_why(demo) -> None:
    backend = fake.FakeBackend(demo)
    result = serving.wait(backend, TARGET, timeout_s=30, poll_s=10)
    assert not result and result.waited_s == 30 and result.timeout_s == 30
    assert str(result) == "✗ Deployment llm not serving after 30 s (deadline 30 s): no Deployment 'llm'"


def test_zero_replicas_is_not_serving(demo) -> None:
    backend = fakescript.Workload(replicas=0).backend(demo)
    state = serving.observe(backend, TARGET)
    assert state.complete and state.pods == 0 and not state.serving


# ---- load windows ---------------------------------------------------------------------------


def test_a_session_names_its_windows_and_stops_on_exit(demo) -> None:
    backend = fake.FakeBackend(demo, requests=fake.steady(rate_rps=1, start_s=0, end_s=1000), rate_rps=1)
    backend.clock.t_s = 10
    with loadwindow.Session(backend, "steady") as load:
        steady = load.hold("steady", 90)
        with load.window("update"):
            backend.clock.sleep(50)
        backend.clock.sleep(5)
    assert (steady.start_s, steady.end_s) == (10, 100)
    assert (load.windows["update"].start_s, load.windows["update"].end_s) == (100, 150)
    assert load.log.started_s == 10 and load.log.stopped_s == 155 and len(load.log) == 145
    assert len(load.log.window(load.windows["update"])) == 50


def test_a_session_stops_its_load_when_the_grader_raises(demo) -> None:
    backend = fake.FakeBackend(demo)
    with pytest.raises(KeyError), loadwindow.Session(backend, "steady") as load:
        raise KeyError("oops")
    assert [e.reason for e in backend.events] == [timeline.LOAD_STARTED, timeline.LOAD_STOPPED]
    assert len(load.log) == 0


def test_a_session_refuses_what_makes_no_sense(demo) -> None:
    load = loadwindow.Session(fake.FakeBackend(demo), "steady")
    with pytest.raises(RuntimeError, match="has not stopped yet"):
        _ = load.log
    with pytest.raises(RuntimeError, match="needs the load running"), load.window("x"):
        pass
    with load:
        load.hold("x", 1)
        with pytest.raises(ValueError, match="exists already"), load.window("x"):
            pass


def test_load_window_runs_for_its_duration(demo) -> None:
    backend = fake.FakeBackend(demo, requests=fake.steady(rate_rps=2, start_s=0, end_s=100), rate_rps=2)
    got = loadwindow.run(backend, "steady", 30, "steady load")
    assert str(got.window) == "steady load [0 s, 30 s)" and len(got.requests()) == 60


# ---- lab.prom -------------------------------------------------------------------------------

UP = 'up{job="llm"}'


def prom_backend(demo: lab_mod.Lab) -> fake.FakeBackend:
    series = [
        fake.PromSeries({"pod": "a"}, [(0, 1), (15, 1), (30, 0)]),
        fake.PromSeries({"pod": "b"}, [(0, 2.5)]),  # goes stale: no sample after 0 s
    ]
    return fake.FakeBackend(demo, prom={UP: series})


def test_fake_prom_answers_with_prometheus_api_client_shapes(demo) -> None:
    backend = prom_backend(demo)
    backend.clock.t_s = 20
    assert backend.prom.query(UP) == [
        {"metric": {"pod": "a"}, "value": [20, "1"]},
        {"metric": {"pod": "b"}, "value": [20, "2.5"]},
    ]
    assert backend.prom.query(UP, at_s=320) == [{"metric": {"pod": "a"}, "value": [320, "0"]}]
    assert backend.prom.query(UP, at_s=400) == []
    assert backend.prom.query_range(UP, 0, 30, 15) == [
        {"metric": {"pod": "a"}, "values": [[0, "1"], [15, "1"], [30, "0"]]},
        {"metric": {"pod": "b"}, "values": [[0, "2.5"], [15, "2.5"], [30, "2.5"]]},
    ]
    assert backend.prom.query(UP, at_s=-1) == []


def test_fake_prom_names_an_unscripted_query(demo) -> None:
    with pytest.raises(errors.BackendError, match=r"no answer scripted for 'sum\(up\)'; it has: 'up"):
        prom_backend(demo).prom.query("sum(up)")


class StubPrometheus:
    """metrics.query.Prometheus as far as KubeProm uses it: unix times in, unix times out."""

    def __init__(self, url: str) -> None:
        self.url, self.calls, self.closed = url, [], False

    def query(self, expr, at):
        self.calls.append(("query", expr, at))
        return [{"metric": {}, "value": [at, "1"]}]

    def query_range(self, expr, start, end, step_s):
        self.calls.append(("query_range", expr, start, end, step_s))
        return [{"metric": {}, "values": [[start, "1"], [end, "2"]]}]

    def close(self) -> None:
        self.closed = True


def test_kube_prom_speaks_run_seconds() -> None:
    stubs: list[StubPrometheus] = []

    def connect(url: str) -> StubPrometheus:
        stubs.append(StubPrometheus(url))
        return stubs[-1]

    prom = kubeprom.KubeProm(lambda: "http://prom:9090", 1_000_000.0, lambda: 42.0, connect=connect)
    assert stubs == [], "no connection before the first query"
    assert prom.query("up") == [{"metric": {}, "value": [42.0, "1"]}]
    assert prom.query_range("up", 10, 70, 15) == [{"metric": {}, "values": [[10.0, "1"], [70.0, "2"]]}]
    assert stubs[0].calls == [
        ("query", "up", 1_000_042.0),
        ("query_range", "up", 1_000_010.0, 1_000_070.0, 15),
    ]
    prom.close()
    assert len(stubs) == 1 and stubs[0].closed and stubs[0].url == "http://prom:9090"


def test_kube_prom_finds_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLOLAB_PROMETHEUS_URL", raising=False)
    assert kubeprom.prometheus_url("kind", in_cluster=False) == "http://127.0.0.1:30090"
    assert kubeprom.prometheus_url("cluster", in_cluster=True) == kubeprom.IN_CLUSTER_URL
    with pytest.raises(errors.BackendError, match="Set SLOLAB_PROMETHEUS_URL"):
        kubeprom.prometheus_url("cluster", in_cluster=False)
    monkeypatch.setenv("SLOLAB_PROMETHEUS_URL", "http://example:9090/")
    assert kubeprom.prometheus_url("cluster", in_cluster=False) == "http://example:9090"
