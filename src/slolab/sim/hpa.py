"""Horizontal Pod Autoscaler (autoscaling/v2) on the simulator.

Upstream: kubernetes v1.35 pkg/controller/podautoscaler/horizontal.go. Work in progress: the
kind is registered (applyable, fields declared, validated as the API server does); the
controller's sync loop follows in the next commits.
"""

from __future__ import annotations

from slolab.sim import controller, hpa_validation, store

HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")

_SELECTOR = (
    "selector.matchLabels.*",
    "selector.matchExpressions[*].key",
    "selector.matchExpressions[*].operator",
    "selector.matchExpressions[*].values[*]",
)
_TARGET = ("target.type", "target.averageUtilization", "target.averageValue", "target.value")
_RULES = (
    "stabilizationWindowSeconds",
    "selectPolicy",
    "tolerance",
    "policies[*].type",
    "policies[*].value",
    "policies[*].periodSeconds",
)

FIELDS = (
    *controller.META_FIELDS,
    "spec.scaleTargetRef.apiVersion",
    "spec.scaleTargetRef.kind",
    "spec.scaleTargetRef.name",
    "spec.minReplicas",
    "spec.maxReplicas",
    "spec.metrics[*].type",
    "spec.metrics[*].resource.name",
    *(f"spec.metrics[*].resource.{f}" for f in _TARGET),
    "spec.metrics[*].containerResource.name",
    "spec.metrics[*].containerResource.container",
    *(f"spec.metrics[*].containerResource.{f}" for f in _TARGET),
    "spec.metrics[*].pods.metric.name",
    *(f"spec.metrics[*].pods.metric.{f}" for f in _SELECTOR),
    *(f"spec.metrics[*].pods.{f}" for f in _TARGET),
    "spec.metrics[*].object.describedObject.apiVersion",
    "spec.metrics[*].object.describedObject.kind",
    "spec.metrics[*].object.describedObject.name",
    "spec.metrics[*].object.metric.name",
    *(f"spec.metrics[*].object.metric.{f}" for f in _SELECTOR),
    *(f"spec.metrics[*].object.{f}" for f in _TARGET),
    "spec.metrics[*].external.metric.name",
    *(f"spec.metrics[*].external.metric.{f}" for f in _SELECTOR),
    *(f"spec.metrics[*].external.{f}" for f in _TARGET),
    *(f"spec.behavior.{d}.{f}" for d in ("scaleUp", "scaleDown") for f in _RULES),
)

KIND = controller.Kind(
    *HPA,
    fields=FIELDS,
    new=lambda meta, spec: store.Generic(*HPA, meta, spec),
    validate=hpa_validation.validate,
)


class Controller(controller.Controller):
    """The horizontal-pod-autoscaler controller: every HPA, every sync period."""

    name = "horizontal-pod-autoscaler"
    owns = (KIND,)
    resync_s = 15.0
