"""Grade a Lab: one grading Job per ``spec.gradeRequest``, its result in ``status.grade``.

Raising ``spec.gradeRequest`` on a Ready lab starts Job ``grade-<n>`` in the lab's namespace
(slolab_operator.grading builds it). The handler polls it with ``kopf.TemporaryError`` until it
finishes, then reads the pod's termination message into ``status.grade`` and condition Graded;
a grader that crashed or left no message is condition Graded=False, reason GraderFailed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from slolab_operator import LAB_LABEL, conditions, grading, kube, spec
from slolab_operator import deps as deps_mod
from slolab_operator.conditions import GRADED, READY


async def grade(
    deps: deps_mod.Deps,
    name: str,
    spec_: Any,
    status: Any,
    patch: kopf.Patch,
    generation: int | None,
    logger: logging.Logger,
) -> None:
    """Start, poll or read the grading Job of Lab ``name``'s newest grade request."""
    cfg = deps.config
    try:
        run = spec.parse(name, spec_, deps.config.lab_overlay())
    except spec.SpecError:
        return  # reconcile reports it
    request = run.grade_request
    if request <= int(status.get("observedGradeRequest") or 0):
        return
    cond = conditions.Conditions(status, patch, generation)
    ready = cond.get(READY)
    if ready is None:
        raise kopf.TemporaryError(
            f"grade request {request} waits for the lab to be installed", delay=cfg.grade_poll_s
        )
    if ready.get("status") != "True":
        cond.set(
            GRADED,
            "False",
            "LabNotReady",
            f"Grade request {request} needs a ready lab: {ready.get('reason')}: {ready.get('message')} "
            f"Once the lab is Ready, ask again: {spec.patch_hint(name, 'gradeRequest', request + 1)}",
        )
        raise kopf.PermanentError(f"grade request {request}: the lab is not ready ({ready.get('reason')})")

    ns, job = run.namespace, grading.job_name(request)
    api = deps.api()
    follow = f"kubectl -n {ns} logs -f job/{job}"
    try:
        existing = await api.read_job(ns, job)
        if existing is None:
            await api.create_job(ns, grading.job_manifest(run, request, cfg))
            logger.info("started grading Job %s/%s for grade request %d", ns, job, request)
            patch.status["grading"] = {
                "job": job,
                "request": request,
                "startedAt": conditions.timestamp(conditions.now()),
            }
            cond.set(
                GRADED,
                "Unknown",
                "Grading",
                f"Job {ns}/{job} runs `slolab grade {run.lab.name}`. Follow it: {follow}",
            )
            raise kopf.TemporaryError(f"grading Job {job} started", delay=cfg.grade_poll_s)
        state = grading.job_state(existing)
        if state == "running":
            cond.set(
                GRADED,
                "Unknown",
                "Grading",
                f"Job {ns}/{job} runs `slolab grade {run.lab.name}`. Follow it: {follow}",
            )
            raise kopf.TemporaryError(f"grading Job {job} is still running", delay=cfg.grade_poll_s)
        pods = await api.list_pods(ns, {LAB_LABEL: name, grading.REQUEST_LABEL: str(request)})
    except kube.KubeError as exc:
        raise deps_mod.retry(exc, cfg.retry_s) from None

    again = spec.patch_hint(name, "gradeRequest", request + 1)
    patch.status["observedGradeRequest"] = request
    patch.status["grading"] = None
    messages = [
        m for m in (grading.termination_message(p) for p in grading.job_pods(pods, job)) if m is not None
    ]
    try:
        if not messages:
            raise grading.GradeError("its pod is gone or never terminated")
        result = grading.parse_grade(messages[0], run.lab.name, job=job, request=request)
    except grading.GradeError as exc:
        why = _job_failure(existing) if state == "failed" else ""
        cond.set(
            GRADED,
            "False",
            "GraderFailed",
            f"Job {ns}/{job} {state}{why}, and {exc}. "
            f"See kubectl -n {ns} logs job/{job}; then grade again: {again}",
        )
        logger.warning("grade request %d of %s: %s", request, name, exc)
        return
    patch.status["grade"] = result
    failed = [c["id"] for c in result["checks"] if c["status"] != "passed"]
    detail = f"; not passed: {', '.join(failed)}" if failed else ""
    cond.set(
        GRADED,
        "True",
        "Graded",
        f"{result['passed']}/{result['total']} checks passed (grade request {request}){detail}. "
        f"Report: kubectl -n {ns} logs job/{job}. Grade again: {again}",
    )


def _job_failure(job: Mapping[str, Any]) -> str:
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return f" ({condition.get('reason')}: {condition.get('message')})"
    return ""
