{{/*
llm-serving.name: the chart name. Used for app.kubernetes.io/name so every release of this
chart carries the same name label.
*/}}
{{- define "llm-serving.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
llm-serving.fullname: the name of every object. fullnameOverride wins (the labs set "llm");
otherwise the release name, suffixed with the chart name unless it already holds it, so two
releases in one namespace never clash. Kubernetes names are at most 63 characters.
*/}}
{{- define "llm-serving.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "llm-serving.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "llm-serving.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
llm-serving.image: the images.* block of the selected engine, as JSON (helpers can only
return strings; callers use fromJson). One place maps engine names to value keys.
*/}}
{{- define "llm-serving.image" -}}
{{- $keys := dict "slolab-serve" "slolabServe" "vllm" "vllm" "llm-d-inference-sim" "llmdInferenceSim" -}}
{{- $key := get $keys .Values.engine -}}
{{- if not $key -}}
{{- fail (printf "engine %q is not known: set engine to slolab-serve, vllm or llm-d-inference-sim." (toString .Values.engine)) -}}
{{- end -}}
{{- $image := index .Values.images $key -}}
{{- if not $image -}}
{{- fail (printf "images.%s is missing: set images.%s.repository and images.%s.tag for engine %s." $key $key $key .Values.engine) -}}
{{- end -}}
{{- toJson $image -}}
{{- end }}

{{/*
llm-serving.selectorLabels: the labels a Service and the Deployment select pods by. Only
name and instance: a Deployment's selector cannot change after creation, so it must not
hold anything that changes with an upgrade (version, engine).
*/}}
{{- define "llm-serving.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-serving.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
llm-serving.labels: the recommended labels on every object. version is the engine image
tag, the version of what actually runs.
Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
*/}}
{{- define "llm-serving.labels" -}}
{{- $image := include "llm-serving.image" . | fromJson -}}
{{ include "llm-serving.selectorLabels" . }}
app.kubernetes.io/version: {{ $image.tag | toString | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: model-server
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
llm-serving.gpuCount: the nvidia.com/gpu count in resources.<requests|limits>, "" when unset.
Called with (list $ "limits"). Used by the checks in llm-serving.validate.
*/}}
{{- define "llm-serving.gpuCount" -}}
{{- $root := index . 0 -}}
{{- $block := index ($root.Values.resources | default dict) (index . 1) | default dict -}}
{{- $count := get $block "nvidia.com/gpu" -}}
{{- if not (kindIs "invalid" $count) }}{{ $count | toString }}{{ end -}}
{{- end }}

{{/*
llm-serving.validate: stops rendering on values that Kubernetes or the engine would reject,
with a message that says which values to change. Included once, from deployment.yaml.
*/}}
{{- define "llm-serving.validate" -}}
{{- $gpuRequest := include "llm-serving.gpuCount" (list . "requests") -}}
{{- $gpuLimit := include "llm-serving.gpuCount" (list . "limits") -}}
{{- if and $gpuRequest (ne $gpuRequest $gpuLimit) -}}
{{- fail (printf "resources.requests.nvidia.com/gpu is %s but resources.limits.nvidia.com/gpu is %s: Kubernetes needs extended resources to be equal in requests and limits. Set both to the same count, or both to null." $gpuRequest ($gpuLimit | default "unset")) -}}
{{- end -}}
{{- if and (eq .Values.engine "vllm") (or (not $gpuLimit) (eq (float64 $gpuLimit) 0.0)) -}}
{{- fail "engine vllm needs an NVIDIA GPU: set resources.limits.nvidia.com/gpu (and resources.requests.nvidia.com/gpu) to 1 or more, or use engine slolab-serve or llm-d-inference-sim on a cluster without GPUs." -}}
{{- end -}}
{{- $svc := .Values.service -}}
{{- if and (not (kindIs "invalid" $svc.nodePort)) (eq $svc.type "ClusterIP") -}}
{{- fail (printf "service.nodePort is %v but service.type is ClusterIP, which has no node port: set service.type to NodePort, or service.nodePort to null." $svc.nodePort) -}}
{{- end -}}
{{- $strategy := .Values.strategy | default dict -}}
{{- if and (eq (toString $strategy.type) "RollingUpdate") $strategy.rollingUpdate -}}
{{- $surge := toString (get $strategy.rollingUpdate "maxSurge") -}}
{{- $unavailable := toString (get $strategy.rollingUpdate "maxUnavailable") -}}
{{- if and (has $surge (list "0" "0%")) (has $unavailable (list "0" "0%")) -}}
{{- fail "strategy.rollingUpdate.maxSurge and maxUnavailable are both 0, so a rolling update could never replace a pod: set one of them above 0." -}}
{{- end -}}
{{- end -}}
{{- include "llm-serving.validateOptional" . -}}
{{- end }}

{{/*
llm-serving.validateOptional: the checks for the optional custom resources (ScaledObject,
Rollout, AnalysisTemplate, PodMonitor), the same rules their controllers enforce, caught at
render time with the values to change. Called from llm-serving.validate.
*/}}
{{- define "llm-serving.validateOptional" -}}
{{- $so := .Values.scaledObject -}}
{{- if and $so.enabled (gt (int $so.minReplicaCount) (int $so.maxReplicaCount)) -}}
{{- fail (printf "scaledObject.minReplicaCount (%d) is above scaledObject.maxReplicaCount (%d), which KEDA rejects: lower the minimum or raise the maximum." (int $so.minReplicaCount) (int $so.maxReplicaCount)) -}}
{{- end -}}
{{- include "llm-serving.validateHpa" . -}}
{{- $rollout := .Values.rollout -}}
{{- if $rollout.enabled -}}
{{- if and (has (toString $rollout.maxSurge) (list "0" "0%")) (has (toString $rollout.maxUnavailable) (list "0" "0%")) -}}
{{- fail "rollout.maxSurge and rollout.maxUnavailable are both 0, so the canary could never replace a pod: set one of them above 0." -}}
{{- end -}}
{{- $pm := .Values.podMonitor -}}
{{- if and $rollout.analysis.enabled $pm.enabled (not (has "rollouts-pod-template-hash" ($pm.podTargetLabels | default list))) -}}
{{- fail "rollout.analysis selects the canary by the rollouts_pod_template_hash label, but podMonitor.podTargetLabels does not copy rollouts-pod-template-hash onto the scraped series: add it." -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
llm-serving.validateHpa: the HorizontalPodAutoscaler's values. Two autoscalers on one
workload fight over its replicas, so the HPA and the ScaledObject (which makes an HPA of its
own) exclude each other; minReplicas above maxReplicas is rejected by the API server; and a
Utilization target on cpu is a share of the CPU request, which the container must have.
Called from llm-serving.validateOptional.
*/}}
{{- define "llm-serving.validateHpa" -}}
{{- $hpa := .Values.hpa -}}
{{- if $hpa.enabled -}}
{{- if .Values.scaledObject.enabled -}}
{{- fail "hpa.enabled and scaledObject.enabled are both true: KEDA's ScaledObject makes an HPA of its own (keda-hpa-<name>), and two autoscalers on one workload fight over its replicas. Enable one of them." -}}
{{- end -}}
{{- if gt (int $hpa.minReplicas) (int $hpa.maxReplicas) -}}
{{- fail (printf "hpa.minReplicas (%d) is above hpa.maxReplicas (%d), which the API server rejects: lower the minimum or raise the maximum." (int $hpa.minReplicas) (int $hpa.maxReplicas)) -}}
{{- end -}}
{{- $cpuUtilization := not $hpa.metrics -}}
{{- range $hpa.metrics -}}
{{- if and (eq (toString .type) "Resource") .resource (eq (toString .resource.name) "cpu") .resource.target (eq (toString .resource.target.type) "Utilization") -}}
{{- $cpuUtilization = true -}}
{{- end -}}
{{- end -}}
{{- $requests := (.Values.resources | default dict).requests | default dict -}}
{{- if and $cpuUtilization (kindIs "invalid" (index $requests "cpu")) -}}
{{- fail "hpa has a cpu Utilization target, a percentage of the container's CPU request, but resources.requests.cpu is not set: set it (e.g. 500m), or give hpa.metrics another target type." -}}
{{- end -}}
{{- end -}}
{{- end }}
