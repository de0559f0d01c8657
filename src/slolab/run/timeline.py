"""The run's timeline: Kubernetes-style events and step series, with every event reason defined once.

Every backend writes the same timeline: the simulator's controllers (``slolab.sim``) record
events as they act; on kind and cluster, ``slolab.kube.observe`` derives the same events from a
live namespace; the fake backend scripts them. Graders (``slolab.grading.podtimes``) and reports
read them. So the reasons are constants here, and producers and readers both use them.

Reasons are Kubernetes' own where Kubernetes has the event (the Event ``reason`` its components
write; upstream kubernetes v1.35: pkg/kubelet/events/event.go for the kubelet's Pod and Node
reasons, pkg/scheduler/schedule_one.go, pkg/controller/controller_utils.go for a ReplicaSet's
pods, pkg/controller/deployment/sync.go and util/deployment_util.go, and
pkg/controller/disruption/disruption.go; KEDA's for a ScaledObject, kedacore/keda v2.20.2
pkg/eventreason/eventreason.go), and slolab's own, in the same CamelCase, where a lab
needs a moment Kubernetes does not report as an event (a model that finished loading, a pod's
Ready condition changing, a pod object gone, a load run, a grader's action).
"""

from __future__ import annotations

import dataclasses
from typing import Any

# ---- event types (core/v1 Event.type)
NORMAL = "Normal"
WARNING = "Warning"

# ---- involved-object kinds that are not API kinds: markers of the run itself
GRADER_KIND = "Grader"  # a grader's action (a rollout restart it made) or a marker it put down
LOAD_KIND = "Load"  # a load run started or stopped

# ---- Pod, from the scheduler and the kubelet (Kubernetes reasons)
SCHEDULED = "Scheduled"
FAILED_SCHEDULING = "FailedScheduling"
PREEMPTED = "Preempted"  # a victim of the scheduler's preemption (DefaultPreemption)
TAINT_MANAGER_EVICTION = "TaintManagerEviction"  # the taint eviction controller deletes a pod
PULLING = "Pulling"
PULLED = "Pulled"
CREATED = "Created"
STARTED = "Started"
KILLING = "Killing"
UNHEALTHY = "Unhealthy"
BACK_OFF = "BackOff"

# ---- Pod, slolab's own
#: the model server answers /health: ``load_s`` in the event's data
MODEL_LOADED = "ModelLoaded"
#: the model server process exited on its own (a startup error)
SERVER_EXITED = "ServerExited"
#: the pod's Ready condition became True / False
READY = "Ready"
NOT_READY = "NotReady"
#: a container was killed by chaos (SIGKILL), not by the kubelet
CONTAINER_KILLED = "ContainerKilled"
#: the pod object is gone from the API
DELETED = "Deleted"

# ---- ReplicaSet and Deployment (Kubernetes reasons)
SUCCESSFUL_CREATE = "SuccessfulCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
SCALING_REPLICA_SET = "ScalingReplicaSet"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
#: ``kubectl rollout restart`` (slolab's: kubectl patches the template, no Event is written)
ROLLOUT_RESTART = "RolloutRestart"
#: ``kubectl argo rollouts set image`` / ``kubectl set image`` by a grader (slolab's)
SET_IMAGE = "SetImage"
#: a grader applied manifests that are part of the lab's run (its chaos), slolab's
APPLIED = "Applied"

# ---- Node (Kubernetes reasons, node lifecycle controller)
NODE_READY = "NodeReady"
NODE_NOT_READY = "NodeNotReady"

# ---- Node, from the kubelet (Kubernetes reasons: kubelet_node_status.go recordNodeSchedulableEvent)
NODE_SCHEDULABLE = "NodeSchedulable"
NODE_NOT_SCHEDULABLE = "NodeNotSchedulable"
#: a taint the node lifecycle controller put on or took off (slolab's: upstream writes no Event)
TAINTED = "Tainted"
UNTAINTED = "Untainted"

# ---- Pod and Node, from ``kubectl drain`` and the Eviction API (slolab's: kubectl prints these
# lines, the API server writes no Event)
#: the Eviction API admitted an eviction: the pod is deleted gracefully
EVICTED = "Evicted"
#: the Eviction API refused it (429 TooManyRequests: a PodDisruptionBudget forbids it)
EVICTION_REFUSED = "EvictionRefused"
DRAIN_STARTED = "Drain"
DRAINED = "Drained"
DRAIN_FAILED = "DrainFailed"

# ---- PodDisruptionBudget (Kubernetes reasons, disruption controller)
NO_PODS = "NoPods"
CALCULATE_EXPECTED_POD_COUNT_FAILED = "CalculateExpectedPodCountFailed"
#: a pod the eviction API admitted was not deleted in time (slolab's)
NOT_DELETED = "NotDeleted"

# ---- ScaledObject (KEDA reasons, kedacore/keda v2.20.2 pkg/eventreason/eventreason.go)
KEDA_SCALERS_STARTED = "KEDAScalersStarted"
KEDA_SCALER_INFO = "KEDAScalerInfo"
KEDA_SCALERS_STOPPED = "KEDAScalersStopped"
KEDA_SCALER_FAILED = "KEDAScalerFailed"
KEDA_METRIC_SOURCE_FAILED = "KEDAMetricSourceFailed"
KEDA_SCALE_TARGET_ACTIVATED = "KEDAScaleTargetActivated"
KEDA_SCALE_TARGET_DEACTIVATED = "KEDAScaleTargetDeactivated"
SCALED_OBJECT_READY = "ScaledObjectReady"
SCALED_OBJECT_CHECK_FAILED = "ScaledObjectCheckFailed"
SCALED_OBJECT_UPDATE_FAILED = "ScaledObjectUpdateFailed"
SCALED_OBJECT_DELETED = "ScaledObjectDeleted"
SCALED_OBJECT_PAUSED = "ScaledObjectPaused"
SCALED_OBJECT_UNPAUSED = "ScaledObjectUnpaused"
SCALED_OBJECT_FALLBACK_ACTIVATED = "ScaledObjectFallbackActivated"
SCALED_OBJECT_FALLBACK_DEACTIVATED = "ScaledObjectFallbackDeactivated"

# ---- Rollout and AnalysisRun (Argo Rollouts reasons, argoproj/argo-rollouts v1.9.1
# utils/conditions/conditions.go, rollout/analysis.go emitAnalysisRunStatusChanges and
# analysis/analysis.go recordAnalysisRunCompletionEvent; AnalysisTemplateNotFound is slolab's)
ROLLOUT_UPDATED = "RolloutUpdated"
NEW_REPLICA_SET_CREATED = "NewReplicaSetCreated"
SKIP_STEPS = "SkipSteps"
ROLLOUT_STEP_COMPLETED = "RolloutStepCompleted"
ROLLOUT_PAUSED = "RolloutPaused"
ROLLOUT_RESUMED = "RolloutResumed"
ROLLOUT_ABORTED = "RolloutAborted"
ROLLOUT_COMPLETED = "RolloutCompleted"
ANALYSIS_RUN_RUNNING = "AnalysisRunRunning"
ANALYSIS_TEMPLATE_NOT_FOUND = "AnalysisTemplateNotFound"
#: an AnalysisRun completed: ANALYSIS_RUN_PREFIX + its phase (AnalysisRunSuccessful, ...Failed,
#: ...Error, ...Inconclusive); a metric: METRIC_PREFIX + its phase
ANALYSIS_RUN_PREFIX = "AnalysisRun"
METRIC_PREFIX = "Metric"
# ---- Chaos Mesh (chaos-mesh v2.8.3 controllers/utils/recorder: common.go, desiredphase.go,
# schedule.go, error.go), on PodChaos, NetworkChaos and Schedule objects
#: the kinds whose events these are (a Schedule spawns one of them per run)
CHAOS_KINDS = ("PodChaos", "NetworkChaos")
CHAOS_APPLIED = "Applied"
CHAOS_RECOVERED = "Recovered"
CHAOS_STARTED = "Started"
CHAOS_TIME_UP = "TimeUp"
CHAOS_PAUSED = "Paused"
CHAOS_DELETED = "Deleted"
CHAOS_FAILED = "Failed"
CHAOS_UPDATED = "Updated"
SCHEDULE_SPAWNED = "Spawned"
SCHEDULE_FORBID = "Forbid"
SCHEDULE_MISSED = "MissSchedule"
SCHEDULE_SKIP = "Skip"

# ---- Load, slolab's own
LOAD_STARTED = "LoadStarted"
LOAD_STOPPED = "LoadStopped"


@dataclasses.dataclass(frozen=True)
class Event:
    """One line of the timeline: a Kubernetes-style event, or a grader/load marker."""

    time_s: float
    kind: str  # involved object kind: Pod, Deployment, ReplicaSet, Node, PodDisruptionBudget, Load, Grader
    name: str
    reason: str  # one of the reasons above
    message: str = ""
    type: str = NORMAL  # NORMAL | WARNING
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


class Recorder:
    """Collects events and step series (value changes only)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.series: dict[str, list[tuple[float, float]]] = {}

    def event(
        self,
        time_s: float,
        kind: str,
        name: str,
        reason: str,
        message: str = "",
        type: str = NORMAL,
        **data: Any,
    ) -> None:
        self.events.append(Event(time_s, kind, name, reason, message, type, data))

    def sample(self, name: str, time_s: float, value: float) -> None:
        points = self.series.setdefault(name, [])
        if points and points[-1][1] == value:
            return
        if points and points[-1][0] == time_s:
            points[-1] = (time_s, value)
        else:
            points.append((time_s, value))
