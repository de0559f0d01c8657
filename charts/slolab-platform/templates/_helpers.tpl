{{/*
slolab-platform.fullname: the name of this chart's own objects. The release name alone when
it already contains "slolab-platform" (make cluster installs release slolab-platform), else
"<release>-slolab-platform"; at most 63 characters.
*/}}
{{- define "slolab-platform.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
slolab-platform.labels: the recommended labels on this chart's own objects.
Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
*/}}
{{- define "slolab-platform.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.Version | quote }}
app.kubernetes.io/component: platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
slolab-platform.prometheusService: the name of the Prometheus Service kube-prometheus-stack
creates: "<fullname>-prometheus", where its fullname is fullnameOverride cut to 26
characters (kube-prometheus-stack templates/_helpers.tpl "kube-prometheus-stack.fullname").
This chart requires the override, so that the name does not depend on the release name.
*/}}
{{- define "slolab-platform.prometheusService" -}}
{{- $kps := index .Values "kube-prometheus-stack" | default dict -}}
{{- if not $kps.fullnameOverride -}}
{{- fail "kube-prometheus-stack.fullnameOverride is empty: set it (slolab uses \"kps\") so that the Prometheus Service has a name the labs can point at (kps-prometheus)." -}}
{{- end -}}
{{- printf "%s-prometheus" ($kps.fullnameOverride | trunc 26 | trimSuffix "-") -}}
{{- end }}

{{/*
slolab-platform.prometheusPort: the Prometheus Service port (kube-prometheus-stack
prometheus.service.port, 9090 unless set).
*/}}
{{- define "slolab-platform.prometheusPort" -}}
{{- $kps := index .Values "kube-prometheus-stack" | default dict -}}
{{- $service := dig "prometheus" "service" (dict) $kps -}}
{{- $service.port | default 9090 | int -}}
{{- end }}

{{/*
slolab-platform.validate: stops rendering on values that would leave the labs without a
working component on kind, with a message that says which value to change.
*/}}
{{- define "slolab-platform.validate" -}}
{{- if .Values.components.chaosMesh.enabled -}}
{{- $daemon := dig "chaosDaemon" (dict) (index .Values "chaos-mesh" | default dict) -}}
{{- if eq (toString $daemon.runtime) "docker" -}}
{{- fail "chaos-mesh.chaosDaemon.runtime is docker (the upstream default), but no node of Kubernetes 1.24 or later runs Docker as its container runtime, and kind nodes run containerd: set chaosDaemon.runtime to containerd and chaosDaemon.socketPath to /run/containerd/containerd.sock (crio and /var/run/crio/crio.sock on CRI-O)." -}}
{{- end -}}
{{- end -}}
{{- if .Values.components.kubePrometheusStack.enabled -}}
{{- $service := dig "prometheus" "service" (dict) (index .Values "kube-prometheus-stack" | default dict) -}}
{{- if and (eq (toString $service.type) "NodePort") (not $service.nodePort) -}}
{{- fail "kube-prometheus-stack.prometheus.service.nodePort is not set: set it to the containerPort that kind-config.yaml maps for Prometheus (30090)." -}}
{{- end -}}
{{- end -}}
{{- end }}
