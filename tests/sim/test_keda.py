"""KEDA's ScaledObject controller, prometheus scaler, fallback and metrics adapter (kedacore/keda v2.20.2)."""

from __future__ import annotations

import hpa_support
import pytest
from sim_support import NS, SOUND, events, manifest, start

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import kedaadapter, kedascaler, metricsapi, registry, scrape, store

PROM = kedascaler.PROMETHEUS_URL
HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")
#: tests of what happens once the HPA controller (sim/hpa.py, branch hpa) acts on KEDA's HPA
needs_hpa = pytest.mark.skipif(HPA not in registry.kinds(), reason="needs the HPA controller (sim/hpa.py)")
SELECTOR = {"matchLabels": {"scaledobject.keda.sh/name": "llm"}}


def so_doc(
    query="vector(0)",
    meta=None,
    trigger=None,
    triggers=None,
    name="llm",
    labels=None,
    annotations=None,
    **spec,
):
    metadata = {"serverAddress": PROM, "query": query, "threshold": "4", **(meta or {})}
    data = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": name,
            **({"labels": labels} if labels else {}),
            **({"annotations": annotations} if annotations else {}),
        },
        "spec": {
            "scaleTargetRef": {"name": "llm"},
            "triggers": triggers or [{"type": "prometheus", "metadata": metadata, **(trigger or {})}],
            **spec,
        },
    }
    return yamlfile.Document(data, "scaledobject.yaml", {})


def run(docs, until, replicas=1):
    sim = start([*manifest(replicas=replicas, probes=SOUND), *docs])
    sim.env.run(until=until)
    return sim


def so_status(sim, name="llm"):
    (so,) = [o for o in sim.api_objects("ScaledObject") if o["metadata"]["name"] == name]
    return so["status"]


def cond(status, type_):
    c = next(c for c in status["conditions"] if c["type"] == type_)
    return c["status"], c.get("reason"), c.get("message")


def hpa(sim, name="keda-hpa-llm"):
    obj = sim.store.get("autoscaling/v2", "HorizontalPodAutoscaler", name, NS)
    return None if obj is None else obj.to_api(sim.env.now, sim.store)


def external(sim, metric="s0-prometheus"):
    return sim.metrics.external.external(metric, NS, SELECTOR)


def replicas(sim):
    return sim.get("apps/v1", "Deployment", "llm").spec["replicas"]


def set_metric(sim, value, name="demand"):
    """A gauge the tests control, as if scraped now."""
    sim.tsdb.append({"__name__": name}, scrape.STAMP_OFFSET_S + sim.env.now, value)


# ---- the generated HPA -----------------------------------------------------------------------------
def test_the_hpa_is_generated_as_keda_generates_it():
    behavior = {
        "scaleDown": {
            "stabilizationWindowSeconds": 60,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}],
        }
    }
    cpu = {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}
    prom = {
        "type": "prometheus",
        "metadata": {"serverAddress": PROM, "query": "vector(1)", "threshold": "0.5"},
    }
    doc = so_doc(
        triggers=[cpu, prom],
        labels={"team": "ml"},
        minReplicaCount=0,
        maxReplicaCount=6,
        advanced={"horizontalPodAutoscalerConfig": {"behavior": behavior}},
    )
    sim = run([doc], until=1)
    h = hpa(sim)
    stored_behavior = h["spec"].pop("behavior")  # copied (and defaulted where the HPA kind is modelled)
    assert {k: stored_behavior["scaleDown"][k] for k in behavior["scaleDown"]} == behavior["scaleDown"]
    assert h["spec"] == {
        "scaleTargetRef": {"name": "llm", "kind": "Deployment", "apiVersion": "apps/v1"},
        "minReplicas": 1,  # minReplicaCount 0: the HPA's floor is 1, KEDA does 0 <-> 1
        "maxReplicas": 6,
        "metrics": [  # sorted by type: External before Resource
            {
                "type": "External",
                "external": {
                    "metric": {"name": "s1-prometheus", "selector": SELECTOR},
                    "target": {"type": "AverageValue", "averageValue": "500m"},
                },
            },
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
            },
        ],
    }
    labels = h["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "keda-operator"
    assert labels["app.kubernetes.io/name"] == "keda-hpa-llm" and labels["app.kubernetes.io/part-of"] == "llm"
    assert labels["team"] == "ml" and labels["scaledobject.keda.sh/name"] == "llm"
    (owner,) = h["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("ScaledObject", "llm", True)
    st = so_status(sim)
    assert st["externalMetricNames"] == ["s1-prometheus"] and st["resourceMetricNames"] == ["cpu"]
    assert st["hpaName"] == "keda-hpa-llm" and st["scaleTargetKind"] == "apps/v1.Deployment"
    assert cond(st, "Ready") == (
        "True",
        "ScaledObjectReady",
        "ScaledObject is defined correctly and is ready for scaling",
    )
    assert [e.reason for e in sim.recorder.events if e.kind == "ScaledObject"][:3] == [
        "KEDAScalersStarted",
        "KEDAScalersStarted",
        "KEDAScalersStarted",
    ]


@needs_hpa
@pytest.mark.parametrize(("restore", "after"), [(True, 1), (False, 4)])
def test_deleting_restores_the_original_replica_count_only_when_asked(restore, after):
    doc = so_doc(query="vector(20)", advanced={"restoreToOriginalReplicaCount": restore})
    sim = run([doc], until=20)
    assert replicas(sim) == 4 and so_status(sim)["originalReplicaCount"] == 1
    sim.delete("keda.sh/v1alpha1", "ScaledObject", "llm")
    sim.env.run(until=40)
    assert replicas(sim) == after and hpa(sim) is None
    (gone,) = events(sim, "ScaledObjectDeleted")
    assert (gone.type, gone.message) == ("Warning", "ScaledObject was deleted")


def test_the_hpa_is_renamed_and_deleted_with_the_scaledobject():
    sim = run([so_doc()], until=1)
    doc = so_doc(advanced={"horizontalPodAutoscalerConfig": {"name": "llm-hpa"}})
    sim.apply([doc])
    sim.env.run(until=2)
    assert hpa(sim) is None and hpa(sim, "llm-hpa") is not None
    sim.delete("keda.sh/v1alpha1", "ScaledObject", "llm")
    sim.env.run(until=3)
    assert hpa(sim, "llm-hpa") is None  # garbage-collected with its owner


def test_a_missing_target_fails_the_check_and_recovers_when_it_appears():
    sim = start([so_doc()])
    sim.env.run(until=1)
    st = so_status(sim)
    assert cond(st, "Ready")[:2] == ("False", "ScaledObjectCheckFailed")
    assert 'deployments.apps "llm" not found' in cond(st, "Ready")[2]
    sim.apply(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=30)
    assert cond(so_status(sim), "Ready")[0] == "True" and hpa(sim) is not None


# ---- the prometheus scaler -------------------------------------------------------------------------
def test_a_query_with_more_than_one_element_is_an_error_whatever_ignore_null_values_says():
    sim = run([so_doc(query="up", meta={"ignoreNullValues": "true"})], until=60)
    failed = events(sim, "KEDAScalerFailed")
    assert failed and failed[0].message == "prometheus query up returned multiple elements"
    assert cond(so_status(sim), "Ready") == (
        "False",
        "TriggerError",
        "Triggers defined in ScaledObject are not working correctly",
    )
    with pytest.raises(metricsapi.MetricsUnavailable) as exc:
        external(sim)
    assert str(exc.value) == (
        "rpc error: code = Unknown desc = "
        "error when getting metric values metric:s0-prometheus encountered error"
    )


@pytest.mark.parametrize(("ignore", "outcome"), [("true", [0.0]), ("false", None)])
def test_an_empty_result_is_zero_only_with_ignore_null_values(ignore, outcome):
    sim = run([so_doc(query="no_such_metric", meta={"ignoreNullValues": ignore})], until=1)
    if outcome is not None:
        assert external(sim)[0] == outcome
        assert not events(sim, "KEDAScalerFailed")
        return
    with pytest.raises(metricsapi.MetricsUnavailable):
        external(sim)
    (failed, *_) = events(sim, "KEDAScalerFailed")
    assert failed.message == "prometheus metrics 'prometheus' target may be lost, the result is empty"


@pytest.mark.parametrize(("ignore", "error"), [("true", None), ("false", "prometheus query returns NaN")])
def test_nan_is_zero_only_with_ignore_null_values(ignore, error):
    sim = run([so_doc(query="vector(0) / 0", meta={"ignoreNullValues": ignore})], until=1)
    got = [e.message for e in events(sim, "KEDAScalerFailed")]
    assert got == ([] if error is None else [error])


def test_a_bad_query_is_prometheus_http_400():
    sim = run([so_doc(query="sum(")], until=1)
    assert events(sim, "KEDAScalerFailed")[0].message == "prometheus query api returned error. status: 400"


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("http://prometheus:9090", "dial tcp: lookup prometheus on 10.96.0.10:53: no such host"),
        ("http://localhost:9090", "dial tcp 127.0.0.1:9090: connect: connection refused"),
        (
            "http://kps-prometheus.monitoring.svc:9090",
            "lookup kps-prometheus.monitoring.svc on 10.96.0.10:53",
        ),
        ("http://kps-prometheus.slolab-system.svc:9091", "(Client.Timeout exceeded while awaiting headers)"),
        ("https://kps-prometheus.slolab-system.svc:9090", "http: server gave HTTP response to HTTPS client"),
    ],
)
def test_a_server_that_is_not_the_lab_prometheus_is_unreachable(address, error):
    sim = run([so_doc(meta={"serverAddress": address})], until=1)
    (failed, *_) = events(sim, "KEDAScalerFailed")
    assert failed.message.startswith(f'Get "{address}/api/v1/query?query=vector%280%29&time=')
    assert error in failed.message


@pytest.mark.parametrize(
    "address",
    [
        "http://kps-prometheus.slolab-system.svc:9090",
        "http://kps-prometheus.slolab-system.svc.cluster.local:9090",
        "http://prometheus-operated.slolab-system:9090",
        "http://kps-prometheus:9090",  # KEDA runs in slolab-system too
    ],
)
def test_the_lab_prometheus_answers_at_its_service_names(address):
    sim = run([so_doc(query="vector(3)", meta={"serverAddress": address})], until=1)
    assert external(sim) == ([3.0], sim.env.now)


def test_values_have_milli_precision_and_negative_values_are_zero():
    sim = run([so_doc(query="vector(2.71828)")], until=1)
    assert external(sim)[0] == [2.718]
    sim = run([so_doc(query="vector(-5)")], until=1)
    assert external(sim)[0] == [0.0]


# ---- fallback -------------------------------------------------------------------------------------
def failures(sim):
    return so_status(sim)["health"]["s0-prometheus"]["numberOfFailures"]


def test_fallback_replaces_the_metric_after_failure_threshold_failures():
    doc = so_doc(query="up", fallback={"failureThreshold": 5, "replicas": 2})
    sim = run([doc], until=31)  # failing since the first scrape (the poll and the HPA both count)
    n = failures(sim)
    assert n >= 1 and so_status(sim)["health"]["s0-prometheus"]["status"] == "Failing"
    while n < 5:  # each query is one more failure; up to failureThreshold the HPA gets the error
        with pytest.raises(metricsapi.MetricsUnavailable):
            external(sim)
        assert failures(sim) == n + 1
        n += 1
    assert cond(so_status(sim), "Fallback")[0] == "False"
    values, _ = external(sim)  # failure 6 > 5: fallback.replicas x threshold, so the HPA wants 2
    assert values == [8.0] and failures(sim) == 6
    st = so_status(sim)
    assert cond(st, "Fallback") == (
        "True",
        "FallbackExists",
        "At least one trigger is falling back on this scaled object",
    )
    assert cond(st, "Ready")[0] == "True"  # with a fallback, errors do not make the ScaledObject un-Ready


@needs_hpa
def test_the_hpa_lands_on_fallback_replicas():
    doc = so_doc(query="up", fallback={"failureThreshold": 2, "replicas": 3}, maxReplicaCount=5)
    sim = run([doc], until=200)
    assert replicas(sim) == 3
    assert cond(so_status(sim), "Fallback")[0] == "True"


def test_fallback_recovers_when_the_query_answers_again():
    doc = so_doc(
        query="demand", meta={"ignoreNullValues": "false"}, fallback={"failureThreshold": 1, "replicas": 3}
    )
    sim = run([doc], until=40)  # no series: every query fails
    assert external(sim)[0] == [12.0]
    set_metric(sim, 5)
    assert external(sim)[0] == [5.0]
    st = so_status(sim)
    assert st["health"]["s0-prometheus"] == {"numberOfFailures": 0, "status": "Happy"}
    assert cond(st, "Fallback")[:2] == ("False", "NoFallbackFound")


def test_an_active_fallback_activates_the_target_from_zero():
    """Fallback counts as an active trigger, so KEDA scales from 0 (the HPA, disabled at 0
    replicas, queries nothing: the poll crosses the threshold and records the event)."""
    doc = so_doc(
        query="demand",
        meta={"ignoreNullValues": "false"},
        fallback={"failureThreshold": 1, "replicas": 3},
        minReplicaCount=0,
        pollingInterval=10,
    )
    sim = run([doc], until=25, replicas=0)  # the poll at 0 fails once; at 10 the second is past 1
    assert [e.reason for e in events(sim, "ScaledObjectFallbackActivated")] == [
        "ScaledObjectFallbackActivated"
    ]
    (up,) = events(sim, "KEDAScaleTargetActivated")
    assert up.message.endswith("from 0 to 1, triggered by s0-prometheus")


def test_fallback_for_a_value_target_is_per_ready_pod():
    doc = so_doc(query="up", trigger={"metricType": "Value"}, fallback={"failureThreshold": 0, "replicas": 4})
    sim = run([doc], until=200, replicas=2)  # both pods ready by now
    assert external(sim)[0] == [8.0]  # 4 replicas / 2 ready pods x threshold 4


# ---- activation, idle and cooldown ----------------------------------------------------------------
def test_activation_from_zero_and_cooldown_back_to_zero():
    doc = so_doc(query="demand", pollingInterval=15, cooldownPeriod=120, minReplicaCount=0)
    sim = run([doc], until=1)
    st = so_status(sim)
    assert cond(st, "Active")[:2] == ("False", "ScalerCooldown")  # created now: not before now + 0 s
    sim.env.run(until=16)
    assert replicas(sim) == 0
    (down,) = events(sim, "KEDAScaleTargetDeactivated")
    assert down.message == f"Deactivated apps/v1.Deployment {NS}/llm from 1 to 0"
    set_metric(sim, 3)
    sim.env.run(until=31)
    assert replicas(sim) == 1
    (up,) = events(sim, "KEDAScaleTargetActivated")
    assert up.message == f"Scaled apps/v1.Deployment {NS}/llm from 0 to 1, triggered by s0-prometheus"
    assert cond(so_status(sim), "Active")[:2] == ("True", "ScalerActive")
    set_metric(sim, 0)  # last active at t=30
    sim.env.run(until=151)
    assert replicas(sim) == 1 and cond(so_status(sim), "Active")[1] == "ScalerCooldown"
    sim.env.run(until=166)  # the poll at 165 is past 30 + 120
    assert replicas(sim) == 0 and len(events(sim, "KEDAScaleTargetDeactivated")) == 2


def test_activation_threshold_and_idle_replica_count():
    doc = so_doc(
        query="demand",
        meta={"activationThreshold": "2"},
        pollingInterval=10,
        cooldownPeriod=0,
        idleReplicaCount=0,
        minReplicaCount=2,
    )
    sim = run([doc], until=1, replicas=3)
    set_metric(sim, 2)  # not above the activation threshold
    sim.env.run(until=25)
    assert replicas(sim) == 0
    set_metric(sim, 2.5)
    sim.env.run(until=35)
    assert replicas(sim) == 2  # from idle to minReplicaCount


def test_only_resource_triggers_are_always_active():
    cpu = {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}
    sim = run([so_doc(triggers=[cpu], minReplicaCount=1)], until=1)
    assert cond(so_status(sim), "Active")[:2] == ("True", "ScalerActive")


# ---- scalingModifiers ------------------------------------------------------------------------------
def test_scaling_modifiers_feed_the_hpa_one_composite_metric():
    queue = {
        "type": "prometheus",
        "name": "queue",
        "metadata": {"serverAddress": PROM, "query": "vector(6)", "threshold": "1"},
    }
    running = {
        "type": "prometheus",
        "name": "running",
        "metadata": {"serverAddress": PROM, "query": "vector(20)", "threshold": "1"},
    }
    modifiers = {
        "formula": "max(queue / 2, running / 16) > 2 ? ceil(queue / 2) : 1",
        "target": "1",
        "activationTarget": "0.5",
    }
    sim = run([so_doc(triggers=[queue, running], advanced={"scalingModifiers": modifiers})], until=1)
    (metric,) = hpa(sim)["spec"]["metrics"]
    assert metric["external"]["metric"]["name"] == "composite-metric"
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "1"}
    assert external(sim, "composite-metric")[0] == [3.0]
    st = so_status(sim)
    assert st["compositeScalerName"] == "composite-metric" and cond(st, "Active")[0] == "True"


# ---- what is refused when applied ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("doc", "field", "text"),
    [
        (so_doc(meta={"threshold": 5}), "spec.triggers[0].metadata.threshold", "must be of type string"),
        (
            so_doc(meta={"threshold": ""}),
            "spec.triggers[0].metadata",
            'missing required parameter "threshold"',
        ),
        (so_doc(meta={"unsafeSsl": "true"}), "spec.triggers[0].metadata.unsafeSsl", "not modelled"),
        (
            so_doc(meta={"activationthreshold": "1"}),
            "spec.triggers[0].metadata.activationthreshold",
            "KEDA would ignore it",
        ),
        (so_doc(triggers=[{"type": "kafka", "metadata": {}}]), "spec.triggers[0].type", "not modelled"),
        (
            so_doc(trigger={"authenticationRef": {"name": "x"}}),
            "spec.triggers[0].authenticationRef",
            "not modelled",
        ),
        (so_doc(trigger={"metricType": "Utilization"}), "spec.triggers[0].metricType", "Utilization"),
        (
            so_doc(minReplicaCount=5, maxReplicaCount=2),
            "spec.minReplicaCount",
            "less than or equal to maxReplicaCount",
        ),
        (
            so_doc(idleReplicaCount=1, minReplicaCount=1),
            "spec.idleReplicaCount",
            "IdleReplicaCount=1 must be less",
        ),
        (
            so_doc(
                triggers=[{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
                minReplicaCount=1,
                fallback={"failureThreshold": 3, "replicas": 2},
            ),
            "spec.fallback",
            "at least one trigger (that is not cpu or memory)",
        ),
        (
            so_doc(triggers=[{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}]),
            "spec.minReplicaCount",
            "only cpu/memory triggers AND minReplica is 0",
        ),
        (
            so_doc(trigger={"name": "q"}, advanced={"scalingModifiers": {"formula": "q % 2", "target": "1"}}),
            "spec.advanced.scalingModifiers.formula",
            "'%'",
        ),
        (
            so_doc(advanced={"scalingModifiers": {"formula": "q * 2", "target": "1"}}),
            "spec.advanced.scalingModifiers.formula",
            "unknown name q",
        ),
        (so_doc(spec_x=1), "spec.spec_x", "not modelled"),
        (so_doc(pollingInterval=0), "spec.pollingInterval", "greater than or equal to 1"),
        (
            so_doc(annotations={"autoscaling.keda.sh/force-activation": "true"}),
            "metadata.annotations.autoscaling.keda.sh/force-activation",
            "not modelled",
        ),
        (
            so_doc(fallback={"failureThreshold": 1, "replicas": 2, "behavior": "scalingModifiers"}),
            "spec.fallback.behavior",
            "not modelled",
        ),
        (so_doc(fallback={"replicas": 2}), "spec.fallback.failureThreshold", "Required value"),
    ],
)
def test_what_keda_or_the_simulator_refuses_is_an_error_naming_the_field(doc, field, text):
    sim = start(manifest(replicas=1))
    with pytest.raises(errors.InputError) as exc:
        from slolab.sim import modelled

        problems = modelled.check(doc)
        if problems:
            raise errors.NotModelledError(problems)
        sim.apply([doc])
    fields = {p.field for p in exc.value.problems}
    assert field in fields, exc.value.problems
    assert any(text in p.message for p in exc.value.problems if p.field == field), exc.value.problems


def test_the_chart_rendering_applies():
    """charts/llm-serving renders metricName-free, quoted metadata; the production-stack's
    ignored metricName is accepted too."""
    meta = {"metricName": "vllm:num_requests_waiting", "activationThreshold": "0", "ignoreNullValues": "true"}
    sim = run(
        [
            so_doc(
                meta=meta,
                pollingInterval=15,
                cooldownPeriod=300,
                initialCooldownPeriod=0,
                minReplicaCount=1,
                maxReplicaCount=4,
            )
        ],
        until=1,
    )
    assert cond(so_status(sim), "Ready")[0] == "True"


def test_the_handler_is_the_external_metrics_api():
    sim = run([so_doc()], until=1)
    assert isinstance(sim.metrics.external, kedaadapter.Handler)
    with pytest.raises(metricsapi.MetricsUnavailable, match="scaledObject name is not specified"):
        sim.metrics.external.external("s0-prometheus", NS, None)


# ---- the webhook's checks against what is stored ----------------------------------------------------
def cpu_hpa(sim):
    """A user's HPA on the Deployment, as stored (the API server's view is all admission reads)."""
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
        "maxReplicas": 4,
    }
    sim.store.create(store.Generic(*HPA, store.Meta(name="llm", namespace=NS), spec))


def test_admission_refuses_a_second_autoscaler_for_the_workload():
    from slolab.sim import kedaspec

    sim = run([], until=1)
    cpu_hpa(sim)
    (problem,) = kedaspec.admit(sim.store, NS, so_doc())
    assert problem.field == "spec.scaleTargetRef"
    assert problem.message.endswith(
        "the workload 'llm' of type 'apps/v1.Deployment' is already managed by the hpa 'llm'"
    )
    sim = run([so_doc()], until=1)
    assert kedaspec.admit(sim.store, NS, so_doc()) == []  # its own HPA is no conflict
    messages = sorted(
        p.message.split(": ", 1)[1] for p in kedaspec.admit(sim.store, NS, so_doc(name="other"))
    )
    assert messages == [
        "the workload 'llm' of type 'apps/v1.Deployment' is already managed by the ScaledObject 'llm'",
        "the workload 'llm' of type 'apps/v1.Deployment' is already managed by the hpa 'keda-hpa-llm'",
    ]


def test_settings_that_do_not_apply_are_noted_as_keda_warns():
    sim = run([so_doc(pollingInterval=15, cooldownPeriod=300, minReplicaCount=1)], until=1)
    assert [e.message.split(" is ")[0] for e in events(sim, "KEDAScalerInfo")] == [
        "PollingInterval",
        "CooldownPeriod",
    ]
    sim = run([so_doc(pollingInterval=15, cooldownPeriod=300, minReplicaCount=0)], until=1)
    assert not events(sim, "KEDAScalerInfo")


@needs_hpa
# ---- pausing ------------------------------------------------------------------------------------------
def test_paused_replicas_hold_the_target_and_remove_the_hpa_until_unpaused():
    sim = run([so_doc(query="vector(20)", maxReplicaCount=4)], until=20)  # the HPA wants 4 at t=15
    assert replicas(sim) == 4
    sim.apply(
        [
            so_doc(
                query="vector(20)",
                maxReplicaCount=4,
                annotations={"autoscaling.keda.sh/paused-replicas": "2"},
            )
        ]
    )
    sim.env.run(until=100)
    st = so_status(sim)
    assert replicas(sim) == 2 and hpa(sim) is None and st["pausedReplicaCount"] == 2
    assert cond(st, "Paused") == ("True", "ScaledObjectPaused", "ScaledObject is paused")
    assert [e.reason for e in events(sim, "ScaledObjectPaused")] == ["ScaledObjectPaused"]
    assert events(sim, "KEDAScalersStopped")
    sim.apply([so_doc(query="vector(20)", maxReplicaCount=4)])
    sim.env.run(until=130)
    st = so_status(sim)
    assert cond(st, "Paused")[:2] == ("False", "ScaledObjectUnpaused") and "pausedReplicaCount" not in st
    assert hpa(sim) is not None and replicas(sim) == 4


def test_paused_scale_in_disables_the_hpas_scale_down():
    sim = run([so_doc(annotations={"autoscaling.keda.sh/paused-scale-in": "true"})], until=1)
    assert hpa(sim)["spec"]["behavior"]["scaleDown"]["selectPolicy"] == "Disabled"
    assert cond(so_status(sim), "Paused")[:2] == ("True", "ScaledObjectPaused")


@pytest.mark.parametrize(
    ("trigger", "metric"),
    [
        (
            {
                "type": "cpu",
                "metricType": "Utilization",
                "metadata": {"value": "50", "containerName": "server"},
            },
            {
                "type": "ContainerResource",
                "containerResource": {
                    "name": "cpu",
                    "container": "server",
                    "target": {"type": "Utilization", "averageUtilization": 50},
                },
            },
        ),
        (
            {"type": "memory", "metricType": "AverageValue", "metadata": {"value": "8Gi"}},
            {
                "type": "Resource",
                "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "8Gi"}},
            },
        ),
        (
            {
                "type": "prometheus",
                "metricType": "Value",
                "metadata": {"serverAddress": PROM, "query": "q", "threshold": "2500"},
            },
            {
                "type": "External",
                "external": {
                    "metric": {"name": "s0-prometheus"},
                    "target": {"type": "Value", "value": "2500"},
                },
            },
        ),
    ],
)
def test_each_trigger_becomes_the_metric_keda_gives_the_hpa(trigger, metric):
    doc = so_doc(triggers=[trigger], minReplicaCount=1)
    parsed, problems = kedascaler.parse(doc, 0)
    assert problems == [] and parsed.metric_spec() == metric


@pytest.mark.parametrize(
    ("value", "text"), [(4, "4"), (0.5, "500m"), (1.5, "1500m"), (2000, "2k"), (0.0004, "0")]
)
def test_targets_are_quantities_of_milli_precision(value, text):
    assert kedascaler.quantity(value) == text


def test_a_scaledobject_on_a_workload_an_hpa_already_scales_is_denied_by_the_webhook() -> None:
    """As kubectl apply -f meets it: hpa.yaml first (applied), then scaledobject.yaml (Forbidden)."""
    with pytest.raises(errors.ManifestError) as caught:
        start([*manifest(replicas=1, probes=SOUND), hpa_support.hpa_doc(), so_doc()])
    text = str(caught.value)
    assert "scaledobject.yaml" in text and "spec.scaleTargetRef" in text
    assert (
        "admission webhook \"vscaledobject.kb.io\" denied the request: the workload 'llm' of type "
        "'apps/v1.Deployment' is already managed by the hpa 'llm'" in text
    )


def test_the_same_scaledobject_applied_again_is_admitted() -> None:
    sim = run([so_doc()], until=40)
    sim.apply([so_doc()])  # its own HPA (keda-hpa-llm) does not count against it
    assert hpa(sim) is not None
