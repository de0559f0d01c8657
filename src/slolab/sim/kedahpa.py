"""The HorizontalPodAutoscaler a ScaledObject owns: built, created, updated, renamed, deleted, and
its health mirrored back.

Upstream: kedacore/keda v2.20.2 controllers/keda/hpa.go:73-191 (newHPAForScaledObject: labels
app.kubernetes.io/{name,version,part-of,managed-by} plus the ScaledObject's own, its
annotations, minReplicas = minReplicaCount when above 0 else 1, maxReplicaCount (default 100),
behavior copied from advanced.horizontalPodAutoscalerConfig, the scale-in/out pause annotations
turning a direction's selectPolicy to Disabled, the ScaledObject as controller owner), :194-259
(updated when spec, labels or annotations differ, compared as DeepDerivative does: fields the
API server defaulted are no difference; renamed by delete and create), :261-379
(getScaledObjectMetricSpecs: the triggers' metrics sorted by type, External ones carrying the
selector ``scaledobject.keda.sh/name: <name>``; with scalingModifiers one External
``composite-metric`` at scalingModifiers.target replaces them; status externalMetricNames,
resourceMetricNames, compositeScalerName, health kept only for live metrics), and
pkg/scaling/executor/scale_scaledobjects.go:120-185 (checkHPAHealth: the HPAActive condition
mirrors the HPA's ScalingActive, left alone until the HPA has one).
"""

from __future__ import annotations

import copy
from typing import Any

from slolab.sim import controller, kedaadapter, kedascaler, kedaspec, store

HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")
VERSION = "2.20.2"
PAUSED_SCALE_IN = "autoscaling.keda.sh/paused-scale-in"
PAUSED_SCALE_OUT = "autoscaling.keda.sh/paused-scale-out"


def bool_annotation(so: store.Generic, key: str) -> bool:
    """getBoolAnnotation: present and not a false boolean (a non-boolean counts as true)."""
    value = so.meta.annotations.get(key)
    if value is None:
        return False
    return value not in ("0", "f", "F", "FALSE", "false", "False")


def spec_for(so: store.Generic, sc: kedaadapter.Scalers) -> dict[str, Any]:
    """The HPA's spec, writing the status fields getScaledObjectMetricSpecs writes."""
    selector = {"matchLabels": {kedaadapter.OWNER_LABEL: so.meta.name}}
    external = [t.metric_name for t in sc.triggers if t.external]
    metrics = []
    for t in sc.triggers:
        metric = t.metric_spec()
        if t.external:
            metric["external"]["metric"]["selector"] = copy.deepcopy(selector)
        metrics.append(metric)
    metrics.sort(key=lambda m: m["type"])
    so.status["externalMetricNames"] = external
    so.status["resourceMetricNames"] = [t.type for t in sc.triggers if not t.external]
    if "health" in so.status:
        so.status["health"] = {k: v for k, v in so.status["health"].items() if k in external}
    sm = kedaadapter.modifiers(so)
    if kedaadapter.using_modifiers(so) and float(sm.get("target") or 0) > 0:
        metric_type = sm.get("metricType") or "AverageValue"
        key = "averageValue" if metric_type == "AverageValue" else "value"
        composite = {
            "type": "External",
            "external": {
                "metric": {"name": kedaadapter.COMPOSITE, "selector": selector},
                "target": {"type": metric_type, key: kedascaler.quantity(float(sm["target"]))},
            },
        }
        so.status["compositeScalerName"] = kedaadapter.COMPOSITE
        metrics = [m for m in metrics if m["type"] != "External"] + [composite]
    ref = so.spec["scaleTargetRef"]
    out: dict[str, Any] = {
        "scaleTargetRef": {
            "name": ref["name"],
            "kind": ref.get("kind") or "Deployment",
            "apiVersion": ref.get("apiVersion") or "apps/v1",
        },
        "minReplicas": kedaspec.hpa_min_replicas(so.spec),
        "maxReplicas": int(so.spec.get("maxReplicaCount", 100)),
        "metrics": metrics,
    }
    config = (so.spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
    behavior = copy.deepcopy(config.get("behavior"))
    for key, direction in ((PAUSED_SCALE_IN, "scaleDown"), (PAUSED_SCALE_OUT, "scaleUp")):
        if bool_annotation(so, key):
            behavior = behavior or {}
            behavior.setdefault(direction, {})["selectPolicy"] = "Disabled"
    if behavior is not None:
        out["behavior"] = behavior
    return out


def labels_for(so: store.Generic) -> dict[str, str]:
    name = kedaspec.hpa_name(so.meta.name, so.spec)[:63].rstrip("-_.")
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/version": VERSION,
        "app.kubernetes.io/part-of": so.meta.name,
        "app.kubernetes.io/managed-by": "keda-operator",
    }
    return {**labels, **so.meta.labels}


def ensure(api: controller.API, so: store.Generic, sc: kedaadapter.Scalers) -> bool:
    """ensureHPAForScaledObjectExists: True when it created the HPA."""
    name = kedaspec.hpa_name(so.meta.name, so.spec)
    found = api.store.get(*HPA, so.status.get("hpaName") or name, so.meta.namespace)
    spec, labels = spec_for(so, sc), labels_for(so)
    annotations = dict(so.meta.annotations)
    if found is not None and found.meta.name != name:  # renameHPA
        api.store.delete(found)
        found = None
    so.status["hpaName"] = name
    if found is None:
        ref = store.OwnerReference(kedaadapter.API_VERSION, so.kind, so.meta.name, so.meta.uid)
        meta = store.Meta(
            name=name,
            namespace=so.meta.namespace,
            labels=labels,
            annotations=annotations,
            owner_references=[ref],
        )
        api.store.create(stored(meta, spec))
        return True
    spec = stored(store.Meta(name=name), spec).spec  # DeepDerivative: defaults are no difference
    if found.spec != spec or found.meta.labels != labels or found.meta.annotations != annotations:
        changed = found.spec != spec
        found.spec, found.meta.labels, found.meta.annotations = spec, labels, annotations
        api.store.update(found, spec_changed=changed)
    return False


def stored(meta: store.Meta, spec: dict[str, Any]) -> Any:
    """The HPA as the API server stores it: the registered HPA kind's constructor (it defaults
    the spec), or a plain object while no controller owns the kind."""
    from slolab.sim import registry  # registry lists the KEDA controller: import on use

    kind = registry.kinds().get(HPA)
    if kind is not None and kind.new is not None:
        return kind.new(meta, spec)
    return store.Generic(*HPA, meta, spec)


def delete(api: controller.API, so: store.Generic) -> None:
    """ensureHPAForScaledObjectIsDeleted."""
    name = so.status.get("hpaName") or kedaspec.hpa_name(so.meta.name, so.spec)
    found = api.store.get(*HPA, name, so.meta.namespace)
    if found is not None:
        api.store.delete(found)


def health(api: controller.API, so: store.Generic) -> None:
    """checkHPAHealth."""
    found = api.store.get(*HPA, so.status.get("hpaName", ""), so.meta.namespace)
    status = getattr(found, "status", None) or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") != "ScalingActive":
            continue
        if cond.get("status") == "True":
            kedaadapter.set_condition(so, "HPAActive", "True", "HPAActive", "HPA is actively scaling")
        elif cond.get("reason") == "ScalingDisabled":
            kedaadapter.set_condition(so, "HPAActive", "True", "ScalingDisabled", cond.get("message", ""))
        else:
            kedaadapter.set_condition(
                so,
                "HPAActive",
                "False",
                cond.get("reason") or "HPAMetricsUnavailable",
                f"HPA is not actively scaling: {cond.get('message', '')}",
            )
        return
