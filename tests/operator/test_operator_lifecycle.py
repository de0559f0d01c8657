"""The operator for real (kopf in KopfRunner, helm 4 through pyhelm3) against kmock's emulator:
create, reset, delete, a learner's fix kept across a restart, bad specs, and the chart's RBAC
covering every request the operator made."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import kubernetes
import pytest
import yaml
from operator_support import (
    condition,
    create_lab,
    delete_lab,
    helm_release,
    lab,
    patch_lab,
    wait_condition,
    wait_for,
)
from rbac import access, allows, chart_rules

from slolab.workspace import render
from slolab_operator import LAB_LABEL, spec

DEPLOYMENTS, SERVICES, SECRETS = "apps/v1/deployments", "v1/services", "v1/secrets"
NAMESPACES = "v1/namespaces"


def container(emulator, namespace: str) -> dict:
    deployment = emulator.get(DEPLOYMENTS, namespace, "llm")
    assert deployment is not None, f"no Deployment llm in {namespace}"
    return deployment["spec"]["template"]["spec"]["containers"][0]


def release_secrets(emulator, namespace: str) -> dict[str, dict]:
    return {
        name: s
        for name, s in emulator.objects(SECRETS, namespace).items()
        if (s["metadata"].get("labels") or {}).get("owner") == "helm"
    }


def test_create_installs_the_scenario_with_the_fault(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "alice", lab="readiness-probes")
        found = wait_condition(emulator, "alice", "Ready")

    status = found["status"]
    for type_, reason in (
        ("Installed", "Deployed"),
        ("FaultInjected", "FaultInjected"),
        ("Ready", "LabReady"),
    ):
        c = condition(found, type_)
        assert (c["status"], c["reason"]) == ("True", reason), c
        assert c["message"] and c["lastTransitionTime"].endswith("Z")
    assert "kubectl patch lab alice --type merge -p" in condition(found, "Ready")["message"]
    assert status["namespace"] == "lab-alice"
    assert status["observedResetGeneration"] == 0
    assert status["release"]["name"] == "llm" and status["release"]["revision"] == 1
    assert status["release"]["chart"].startswith("llm-serving-")
    started = datetime.datetime.fromisoformat(status["startedAt"].replace("Z", "+00:00"))
    deadline = datetime.datetime.fromisoformat(status["deadline"].replace("Z", "+00:00"))
    assert deadline - started == datetime.timedelta(minutes=45)  # lab.yaml time_limit_minutes
    assert "No failed requests through the rolling update" in status["briefing"]
    assert "gradeRequest" in status["briefing"] and "resetGeneration" in status["briefing"]

    # The namespace is the operator's, with the grader's account and both RoleBindings.
    ns = emulator.get(NAMESPACES, None, "lab-alice")
    assert ns["metadata"]["labels"][LAB_LABEL] == "alice"
    assert "slolab-grader" in emulator.objects("v1/serviceaccounts", "lab-alice")
    bindings = emulator.objects("rbac.authorization.k8s.io/v1/rolebindings", "lab-alice")
    assert bindings["slolab-operator"]["roleRef"]["name"] == "slolab-operator-lab"
    assert bindings["slolab-operator"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "slolab-operator", "namespace": "slolab-system"}
    ]
    assert bindings["slolab-grader"]["roleRef"]["name"] == "slolab-operator-grader"
    assert bindings["slolab-grader"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "slolab-grader", "namespace": "lab-alice"}
    ]

    # One Helm release, one revision, holding the scenario's values with the fault's on top.
    secrets = release_secrets(emulator, "lab-alice")
    assert list(secrets) == ["sh.helm.release.v1.llm.v1"]
    record = helm_release(secrets["sh.helm.release.v1.llm.v1"])
    run = spec.parse("alice", {"lab": "readiness-probes"})
    assert record["info"]["status"] == "deployed"
    assert record["info"]["description"] == run.marker()
    assert record["config"] == run.values()
    assert record["config"]["startupProbe"] is None and record["config"]["readinessProbe"] is None

    # The Deployment the cluster got is what `helm template` renders from the same values.
    c = container(emulator, "lab-alice")
    assert "readinessProbe" not in c and "startupProbe" not in c
    assert c["livenessProbe"]["initialDelaySeconds"] == 30
    files = render.render("llm-serving", [run.values()], release="llm", namespace="lab-alice", header=None)
    rendered = {d["kind"]: d for f in files for d in yaml.safe_load_all(f.text) if d}
    assert emulator.get(DEPLOYMENTS, "lab-alice", "llm")["spec"] == rendered["Deployment"]["spec"]
    assert emulator.get(SERVICES, "lab-alice", "llm")["spec"] == rendered["Service"]["spec"]


def test_reset_reinstalls_the_starting_state(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "bob", lab="readiness-probes")
        before = wait_condition(emulator, "bob", "Ready")
        # The learner fixes the lab (kubectl apply of their readiness probe).
        probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5}
        kubernetes.client.AppsV1Api(api).patch_namespaced_deployment(
            "llm",
            "lab-bob",
            {"spec": {"template": {"spec": {"containers": [{"name": "llm", "readinessProbe": probe}]}}}},
        )
        assert "readinessProbe" in container(emulator, "lab-bob")

        patch_lab(api, "bob", {"resetGeneration": 1})
        after = wait_for(
            "observedResetGeneration 1",
            lambda: (
                (found := lab(emulator, "bob"))
                and found["status"].get("observedResetGeneration") == 1
                and condition(found, "FaultInjected")["status"] == "True"
                and found
            ),
        )

    assert "readinessProbe" not in container(emulator, "lab-bob")
    secrets = release_secrets(emulator, "lab-bob")
    assert list(secrets) == ["sh.helm.release.v1.llm.v1"]  # uninstalled, then a fresh revision 1
    assert "reset=1" in helm_release(secrets["sh.helm.release.v1.llm.v1"])["info"]["description"]
    assert "reset generation 1" in condition(after, "FaultInjected")["message"]
    assert after["status"]["startedAt"] == before["status"]["startedAt"]  # a reset keeps the clock
    methods = [(r.method, r.path) for r in emulator.requests() if r.user_agent.startswith("Helm")]
    deleted = methods.index(("DELETE", "/apis/apps/v1/namespaces/lab-bob/deployments/llm"))
    assert ("PATCH", "/apis/apps/v1/namespaces/lab-bob/deployments/llm") in methods[deleted:]


def test_a_learners_fix_survives_an_operator_restart(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "carol", lab="readiness-probes")
        wait_condition(emulator, "carol", "Ready")
    probe = {"httpGet": {"path": "/health", "port": "http"}}
    kubernetes.client.AppsV1Api(api).patch_namespaced_deployment(
        "llm",
        "lab-carol",
        {"spec": {"template": {"spec": {"containers": [{"name": "llm", "readinessProbe": probe}]}}}},
    )
    seen = len(emulator.requests())
    with operator():
        # The new operator resumes the Lab: it asks helm about the release, then leaves it alone.
        wait_for(
            "the resumed operator to look at the release",
            lambda: any(r.user_agent.startswith("Helm") for r in emulator.requests()[seen:]),
        )
        wait_for(
            "kopf to finish resuming",
            lambda: (
                not any(
                    k.endswith("/reconcile")
                    for k in lab(emulator, "carol")["metadata"].get("annotations", {})
                )
            ),
        )
    later = emulator.requests()[seen:]
    helm_writes = [r for r in later if r.user_agent.startswith("Helm") and r.method != "GET"]
    assert not helm_writes, helm_writes
    assert not [r for r in later if r.method == "DELETE"]
    assert container(emulator, "lab-carol")["readinessProbe"] == probe
    assert condition(lab(emulator, "carol"), "Ready")["status"] == "True"


def test_delete_uninstalls_and_removes_the_namespace(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "dave", lab="readiness-probes")
        wait_condition(emulator, "dave", "Ready")
        assert lab(emulator, "dave")["metadata"]["finalizers"] == ["slolab.dev/cleanup"]
        delete_lab(api, "dave")
        wait_for("the Lab to be gone", lambda: lab(emulator, "dave") is None)
    assert emulator.get(NAMESPACES, None, "lab-dave") is None
    assert not emulator.objects(DEPLOYMENTS, "lab-dave") and not release_secrets(emulator, "lab-dave")
    helm = [(r.method, r.path) for r in emulator.requests() if r.user_agent.startswith("Helm")]
    assert ("DELETE", "/apis/apps/v1/namespaces/lab-dave/deployments/llm") in helm
    assert ("DELETE", "/api/v1/namespaces/lab-dave/secrets/sh.helm.release.v1.llm.v1") in helm


# -- input the operator cannot act on ----------------------------------------------------------


def _patches_of(emulator, name: str) -> int:
    return sum(
        r.method == "PATCH" and r.path.startswith(f"/apis/slolab.dev/v1alpha1/labs/{name}")
        for r in emulator.requests()
    )


def test_unknown_lab_is_a_condition_not_a_crash_loop(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "eve", lab="no-such-lab")
        found = wait_condition(emulator, "eve", "Ready", "False", reason="UnknownLab")
        message = condition(found, "Ready")["message"]
        assert "no lab named 'no-such-lab'" in message and "readiness-probes" in message
        # kopf's own bookkeeping patch may still follow the condition: wait until none came for
        # 0.5 s; a retry would come 1 s after the failure (settings.queueing.error_delays)
        settled, quiet_since = _patches_of(emulator, "eve"), time.monotonic()
        deadline = quiet_since + 10
        while time.monotonic() - quiet_since < 0.5:
            assert time.monotonic() < deadline, "the operator never stops patching the bad Lab"
            time.sleep(0.05)
            if (now := _patches_of(emulator, "eve")) != settled:
                settled, quiet_since = now, time.monotonic()
        time.sleep(1.5)
        assert _patches_of(emulator, "eve") == settled, "the operator keeps retrying a permanent error"
        assert emulator.get(NAMESPACES, None, "lab-eve") is None
        # The operator is still serving other Labs.
        create_lab(api, "eve2", lab="readiness-probes")
        wait_condition(emulator, "eve2", "Ready")
        # Fixing the spec is a new change; the same Lab then gets installed.
        delete_lab(api, "eve")
        wait_for("the bad Lab to be deleted", lambda: lab(emulator, "eve") is None)


@pytest.mark.parametrize(
    ("name", "spec_", "expected"),
    [
        ("frank", {"lab": "readiness-probes", "seed": -1}, "spec.seed: -1 is less than the minimum of 0"),
        ("frank", {"lab": "readiness-probes", "gradeRequests": 1}, "spec.gradeRequests: unknown field"),
        ("frank", {"lab": "Readiness Probes"}, "spec.lab: 'Readiness Probes' does not match"),
        ("f" * 60, {"lab": "readiness-probes"}, "is 60 characters; at most 59"),
    ],
    ids=["negative-seed", "unknown-field", "bad-lab-name", "name-too-long"],
)
def test_invalid_spec_is_a_condition(emulator, operator, api, name: str, spec_: dict, expected: str) -> None:
    with operator():
        create_lab(api, name, **spec_)
        found = wait_condition(emulator, name, "Ready", "False", reason="InvalidSpec")
    assert expected in condition(found, "Ready")["message"]
    assert not emulator.objects(NAMESPACES)


def test_changing_the_lab_of_a_running_lab_is_refused(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "ivy", lab="readiness-probes")
        wait_condition(emulator, "ivy", "Ready")
        patch_lab(api, "ivy", {"lab": "keda-scaling"})
        found = wait_condition(emulator, "ivy", "Ready", "False", reason="InvalidSpec")
    assert "spec.lab cannot change (it was 'readiness-probes')" in condition(found, "Ready")["message"]
    record = helm_release(release_secrets(emulator, "lab-ivy")["sh.helm.release.v1.llm.v1"])
    assert "lab=readiness-probes" in record["info"]["description"]


def test_a_namespace_the_operator_did_not_create_is_left_alone(emulator, operator, api) -> None:
    kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": "lab-grace"}})
    with operator():
        create_lab(api, "grace", lab="readiness-probes")
        found = wait_condition(emulator, "grace", "Ready", "False", reason="NamespaceConflict")
        assert "kubectl delete namespace lab-grace" in condition(found, "Ready")["message"]
        delete_lab(api, "grace")
        wait_for("the Lab to be gone", lambda: lab(emulator, "grace") is None)
    assert emulator.get(NAMESPACES, None, "lab-grace") is not None
    assert not emulator.objects(DEPLOYMENTS, "lab-grace")


# -- least privilege ---------------------------------------------------------------------------


def test_chart_rbac_covers_every_request_the_operator_makes(emulator, operator, api, helm: Path) -> None:
    """Create, reset, grade and delete a Lab; every request of kopf, helm and the operator's own
    client must be allowed by the ClusterRoles and Role of charts/slolab-operator, the lab role
    only inside lab namespaces, the events Role only in the operator's namespace."""
    from test_operator_grading import finish_job

    with operator():
        create_lab(api, "heidi", lab="readiness-probes")
        wait_condition(emulator, "heidi", "Ready")
        patch_lab(api, "heidi", {"gradeRequest": 1})
        wait_for("the grading Job", lambda: emulator.get("batch/v1/jobs", "lab-heidi", "grade-1"))
        finish_job(api, "heidi", 1)
        wait_condition(emulator, "heidi", "Graded")
        patch_lab(api, "heidi", {"resetGeneration": 1})
        wait_for("the reset", lambda: lab(emulator, "heidi")["status"].get("observedResetGeneration") == 1)
        delete_lab(api, "heidi")
        wait_for("the Lab to be gone", lambda: lab(emulator, "heidi") is None)

    rules = chart_rules(helm)
    cluster = rules["ClusterRole", "slolab-operator"]
    per_lab = rules["ClusterRole", "slolab-operator-lab"]
    events = rules["Role", "slolab-operator-events"]

    agents = {"kopf": 0, "Helm": 0, "slolab-operator": 0}
    denied = []
    for r in emulator.requests():
        agent = next((a for a in agents if r.user_agent.startswith(a)), None)
        want = access(r.method, r.path, r.params)
        if agent is None or want is None:
            continue
        agents[agent] += 1
        ok = allows(cluster, want)
        ok = ok or ((want.namespace or "").startswith("lab-") and allows(per_lab, want))
        ok = ok or (want.namespace == "slolab-system" and allows(events, want))
        if not ok:
            denied.append(f"{agent}: {want}")
    assert all(agents.values()), agents
    assert not denied, "requests the chart's RBAC would refuse:\n" + "\n".join(sorted(set(denied)))
