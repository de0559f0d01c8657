"""Grading: a grade request starts a Job that runs the lab's grader; the Job's pod leaves its
summary as the termination message, and the operator turns it into status.grade.

There is no kubelet or Job controller in the emulator, so the tests play them: they create the
Job's pod with a terminated container and mark the Job Complete or Failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from operator_support import condition, create_lab, lab, patch_lab, wait_condition, wait_for

from slolab.catalog import k8svalidate, yamlfile
from slolab.report import jsonreport
from slolab_operator import LAB_LABEL, config, grading, spec


def summary_doc(
    lab_name: str = "readiness-probes", failed: tuple[str, ...] = ("ttft_p99_ratio",)
) -> dict[str, Any]:
    """A grade report as ``slolab grade`` builds it, reduced by jsonreport.summary."""
    ids = ["failed_requests", "container_restarts", "ready_after_load_s", "ttft_p99_ratio"]
    checks = [
        {"id": i, "status": "failed" if i in failed else "passed", "observed_text": f"{i} observed"}
        for i in ids
    ]
    passed = sum(c["status"] == "passed" for c in checks)
    doc = {
        "lab": lab_name,
        "backend": "cluster",
        "score": f"{passed}/{len(ids)}",
        "started_at": "2026-05-01T10:00:00+00:00",
        "checks": checks,
    }
    return jsonreport.summary(doc)


def finish_job(
    api: kubernetes.client.ApiClient,
    name: str,
    request: int,
    message: str | None = None,
    outcome: str = "Complete",
) -> None:
    """Play the Job controller and the kubelet: the Job's pod terminated with ``message``."""
    namespace, job = f"lab-{name}", grading.job_name(request)
    message = json.dumps(summary_doc()) if message is None else message
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job}-x7k2p",
            "namespace": namespace,
            "creationTimestamp": "2026-05-01T10:00:00Z",
            "labels": {
                LAB_LABEL: name,
                grading.REQUEST_LABEL: str(request),
                "batch.kubernetes.io/job-name": job,
                "job-name": job,
            },
        },
        "spec": {"containers": [{"name": "grader", "image": "slolab/operator:test"}]},
        "status": {
            "phase": "Succeeded" if outcome == "Complete" else "Failed",
            "containerStatuses": [
                {
                    "name": "grader",
                    "image": "slolab/operator:test",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {"exitCode": 0 if outcome == "Complete" else 1, "message": message}
                    },
                }
            ],
        },
    }
    # An unrelated pod in the same namespace, which kmock also lists (it ignores selectors).
    other = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "llm-abc", "namespace": namespace, "labels": {"app": "llm"}},
        "spec": {"containers": [{"name": "llm", "image": "slolab/serve:0.1.0"}]},
        "status": {
            "containerStatuses": [
                {
                    "name": "llm",
                    "image": "slolab/serve:0.1.0",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 1, "message": "not the grader"}},
                }
            ]
        },
    }
    core = kubernetes.client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, pod)
    try:
        core.create_namespaced_pod(namespace, other)
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise
    condition_ = {
        "type": outcome,
        "status": "True",
        "reason": "Done" if outcome == "Complete" else "BackoffLimitExceeded",
    }
    if outcome == "Failed":
        condition_["message"] = "Job has reached the specified backoff limit"
    status = {"conditions": [condition_], "succeeded" if outcome == "Complete" else "failed": 1}
    kubernetes.client.BatchV1Api(api).patch_namespaced_job_status(job, namespace, {"status": status})


def test_grade_request_runs_a_job_and_reports_the_grade(emulator, operator, api, tmp_path: Path) -> None:
    with operator():
        create_lab(api, "ivan", lab="readiness-probes", seed=2)
        wait_condition(emulator, "ivan", "Ready")
        patch_lab(api, "ivan", {"gradeRequest": 1})
        job = wait_for("the grading Job", lambda: emulator.get("batch/v1/jobs", "lab-ivan", "grade-1"))
        grading_ = wait_condition(emulator, "ivan", "Graded", "Unknown", reason="Grading")
        assert grading_["status"]["grading"]["job"] == "grade-1"
        assert "kubectl -n lab-ivan logs -f job/grade-1" in condition(grading_, "Graded")["message"]

        pod = job["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["command"] == [
            "slolab", "grade", "readiness-probes", "--backend", "cluster", "--in-cluster",
            "--namespace", "lab-ivan", "--seed", "2", "--no-plot", "--summary-file", "/dev/termination-log",
        ]  # fmt: skip
        assert c["image"] == "slolab/operator:test"
        assert c["terminationMessagePath"] == "/dev/termination-log"
        assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["serviceAccountName"] == "slolab-grader"
        assert job["spec"]["backoffLimit"] == 0
        manifest = tmp_path / "job.yaml"
        manifest.write_text(json.dumps(job), encoding="utf-8")
        assert k8svalidate.validate_all(yamlfile.load_all(manifest, display="job")) == []

        finish_job(api, "ivan", 1)
        found = wait_condition(emulator, "ivan", "Graded", "True", reason="Graded")

    status = found["status"]
    assert status["observedGradeRequest"] == 1
    assert status.get("grading") is None
    grade = status["grade"]
    assert (grade["score"], grade["passed"], grade["total"], grade["request"]) == ("3/4", 3, 4, 1)
    assert grade["gradedAt"] == "2026-05-01T10:00:00+00:00"
    assert grade["checks"][3] == {
        "id": "ttft_p99_ratio",
        "status": "failed",
        "observed": "ttft_p99_ratio observed",
    }
    message = condition(found, "Graded")["message"]
    assert message.startswith("3/4 checks passed (grade request 1); not passed: ttft_p99_ratio.")


def test_a_grader_that_crashed_is_reported(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "judy", lab="readiness-probes")
        wait_condition(emulator, "judy", "Ready")
        patch_lab(api, "judy", {"gradeRequest": 1})
        wait_for("the grading Job", lambda: emulator.get("batch/v1/jobs", "lab-judy", "grade-1"))
        log_tail = "Traceback (most recent call last):\n  ...\nConnectionError: no route to the Service llm"
        finish_job(api, "judy", 1, message=log_tail, outcome="Failed")
        found = wait_condition(emulator, "judy", "Graded", "False", reason="GraderFailed")
        message = condition(found, "Graded")["message"]
        assert "Job lab-judy/grade-1 failed (BackoffLimitExceeded" in message
        assert "ConnectionError: no route to the Service llm" in message
        assert "gradeRequest" in message and found["status"]["observedGradeRequest"] == 1
        assert "grade" not in found["status"]
        # The same request is not graded again; the next one is.
        patch_lab(api, "judy", {"gradeRequest": 2})
        wait_for("the second grading Job", lambda: emulator.get("batch/v1/jobs", "lab-judy", "grade-2"))
        finish_job(api, "judy", 2)
        found = wait_condition(emulator, "judy", "Graded", "True")
    assert found["status"]["grade"]["request"] == 2
    assert set(emulator.objects("batch/v1/jobs", "lab-judy")) == {"grade-1", "grade-2"}


def test_grade_request_of_a_broken_lab_says_why(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "ken", lab="no-such-lab", gradeRequest=1)
        found = wait_condition(emulator, "ken", "Ready", "False", reason="UnknownLab")
    assert condition(found, "Graded") is None
    assert not emulator.objects("batch/v1/jobs")


# -- the layer below: summary format and Job state ---------------------------------------------


def test_the_graders_summary_format_is_what_the_operator_reads() -> None:
    summary = summary_doc(failed=())
    assert len(json.dumps(summary).encode()) <= jsonreport.SUMMARY_LIMIT
    grade = grading.parse_grade(json.dumps(summary), "readiness-probes", job="grade-4", request=4)
    assert (grade["score"], grade["passed"], grade["total"], grade["job"]) == ("4/4", 4, 4, "grade-4")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "left no termination message"),
        ("Error: no kubeconfig", "did not write its summary; its output ends with: Error: no kubeconfig"),
        (json.dumps({"lab": "readiness-probes", "score": "1/1"}), "summary is not valid: passed"),
        (json.dumps({**summary_doc(), "checks": [{"id": "x", "status": "ok"}]}), "checks.0.status"),
        (json.dumps(summary_doc(lab_name="keda-scaling")), "is for lab 'keda-scaling'"),
    ],
    ids=["empty", "log-tail", "missing-fields", "bad-status", "other-lab"],
)
def test_unreadable_summaries(message: str, expected: str) -> None:
    with pytest.raises(grading.GradeError, match=expected.replace("(", r"\(")):
        grading.parse_grade(message, "readiness-probes", job="grade-1", request=1)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ({}, "running"),
        ({"active": 1}, "running"),
        ({"conditions": [{"type": "Complete", "status": "True"}]}, "succeeded"),
        ({"conditions": [{"type": "Failed", "status": "True"}]}, "failed"),
        ({"conditions": [{"type": "Failed", "status": "False"}], "active": 1}, "running"),
        ({"succeeded": 1}, "succeeded"),
        ({"failed": 1}, "failed"),
    ],
)
def test_job_state(status: dict, state: str) -> None:
    assert grading.job_state({"status": status}) == state


def test_job_manifest_is_valid_and_restricted(tmp_path: Path) -> None:
    run = spec.parse("x", {"lab": "readiness-probes"})
    job = grading.job_manifest(run, 3, config.Config(helm=Path("helm"), grade_deadline_s=600))
    file = tmp_path / "job.yaml"
    file.write_text(json.dumps(job), encoding="utf-8")
    assert k8svalidate.validate_all(yamlfile.load_all(file, display="job")) == []
    assert job["metadata"] == {
        "name": "grade-3",
        "namespace": "lab-x",
        "labels": {
            LAB_LABEL: "x",
            grading.REQUEST_LABEL: "3",
            "app.kubernetes.io/managed-by": "slolab-operator",
        },
    }
    assert job["spec"]["activeDeadlineSeconds"] == 600
    assert "--seed" in job["spec"]["template"]["spec"]["containers"][0]["command"]


def test_lab_status_is_left_alone_before_a_grade_request(emulator, operator, api) -> None:
    with operator():
        create_lab(api, "leo", lab="readiness-probes")
        wait_condition(emulator, "leo", "Ready")
    assert condition(lab(emulator, "leo"), "Graded") is None
    assert not emulator.objects("batch/v1/jobs", "lab-leo")
