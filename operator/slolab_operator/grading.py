"""The grading Job: what it runs, whether it finished, and the grade it left behind.

The Job runs the operator image's ``slolab grade <lab> --backend cluster --in-cluster
--namespace lab-<name> --summary-file /dev/termination-log``. The kubelet keeps the file as the
container's termination message (at most 4096 bytes) in
``status.containerStatuses[].state.terminated.message``; with ``FallbackToLogsOnError`` a grader
that crashed before writing it leaves the tail of its log there instead.
Ref: https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/
and https://kubernetes.io/docs/concepts/workloads/controllers/job/ (conditions Complete, Failed).

The summary's shape is :func:`slolab.report.jsonreport.summary`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import pydantic

from slolab_operator import LAB_LABEL, MANAGED_BY, config, spec

JOB_PREFIX = "grade-"
SUMMARY_FILE = "/dev/termination-log"
REQUEST_LABEL = "slolab.dev/grade-request"
#: The Job controller labels its pods with the Job's name (both spellings; the short one
#: is the older, still set in 1.35).
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")

State = Literal["running", "succeeded", "failed"]


class GradeError(Exception):
    """The Job finished but left no grade that can be read."""


def job_name(request: int) -> str:
    return f"{JOB_PREFIX}{request}"


def command(run: spec.LabRun) -> list[str]:
    return [
        "slolab",
        "grade",
        run.lab.name,
        "--backend",
        "cluster",
        "--in-cluster",
        "--namespace",
        run.namespace,
        "--seed",
        str(run.seed),
        "--no-plot",
        "--summary-file",
        SUMMARY_FILE,
    ]


def job_manifest(run: spec.LabRun, request: int, cfg: config.Config) -> dict[str, Any]:
    """The batch/v1 Job for grade request ``request`` of ``run``."""
    labels = {LAB_LABEL: run.name, REQUEST_LABEL: str(request), **MANAGED_BY}
    restricted = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(request), "namespace": run.namespace, "labels": labels},
        "spec": {
            # One attempt: a grade that failed says why; a retry would drive the load again.
            "backoffLimit": 0,
            "activeDeadlineSeconds": cfg.grade_deadline_s,
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": cfg.grader_service_account,
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "grader",
                            "image": cfg.image,
                            "imagePullPolicy": cfg.image_pull_policy,
                            "command": command(run),
                            # reports go to $SLOLAB_WORKSPACE/<lab>/reports: on the emptyDir
                            "env": [
                                {"name": "HOME", "value": "/tmp"},
                                {"name": "SLOLAB_WORKSPACE", "value": "/tmp/workspace"},
                            ],
                            "terminationMessagePath": SUMMARY_FILE,
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "512Mi"},
                                "limits": {"memory": "1Gi"},
                            },
                            "securityContext": restricted,
                            # pytest, matplotlib and the report write here; the root stays read-only.
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
                },
            },
        },
    }


def job_state(job: Mapping[str, Any]) -> State:
    """running, succeeded or failed, from the Job's conditions (counts when there are none)."""
    status = job.get("status") or {}
    for condition in status.get("conditions") or ():
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return "succeeded"
        if condition.get("type") == "Failed":
            return "failed"
    if (status.get("succeeded") or 0) > 0:
        return "succeeded"
    if (status.get("failed") or 0) > 0:
        return "failed"
    return "running"


def job_pods(pods: Iterable[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    """The pods of Job ``name``, newest first."""
    own = [
        p
        for p in pods
        if any(((p.get("metadata") or {}).get("labels") or {}).get(k) == name for k in JOB_NAME_LABELS)
    ]
    return sorted(own, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "", reverse=True)


def termination_message(pod: Mapping[str, Any]) -> str | None:
    """The grader container's termination message, if it has terminated."""
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        terminated = (status.get("state") or {}).get("terminated")
        if terminated is not None:
            return terminated.get("message") or ""
    return None


class _Check(pydantic.BaseModel):
    id: str
    status: Literal["passed", "failed", "inconclusive"]
    observed: str = ""


class _Summary(pydantic.BaseModel):
    """The compact JSON ``slolab grade --summary-file`` writes (extra keys are ignored)."""

    lab: str
    score: str
    passed: int = pydantic.Field(ge=0)
    total: int = pydantic.Field(ge=0)
    graded_at: str
    checks: list[_Check]


def parse_grade(message: str, lab: str, *, job: str, request: int) -> dict[str, Any]:
    """``status.grade`` from a termination message; GradeError says what is wrong with it."""
    text = (message or "").strip()
    if not text:
        raise GradeError("the grader left no termination message")
    try:
        data = json.loads(text)
    except ValueError:
        tail = text[-300:]
        raise GradeError(f"the grader did not write its summary; its output ends with: {tail}") from None
    try:
        summary = _Summary.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise GradeError(f"the grader's summary is not valid: {where}: {first['msg']}") from None
    if summary.lab != lab:
        raise GradeError(f"the grader's summary is for lab {summary.lab!r}, not {lab!r}")
    return {
        "request": request,
        "job": job,
        "score": summary.score,
        "passed": summary.passed,
        "total": summary.total,
        "gradedAt": summary.graded_at,
        "checks": [c.model_dump() for c in summary.checks],
    }
