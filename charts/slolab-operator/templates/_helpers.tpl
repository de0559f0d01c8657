{{/*
slolab-operator.name: the chart name, for app.kubernetes.io/name.
*/}}
{{- define "slolab-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
slolab-operator.fullname: the name of every object. fullnameOverride wins; otherwise the release
name, suffixed with the chart name unless it already holds it. At most 52 characters, so that
"<fullname>-grader" still fits the 63 of a label value.
*/}}
{{- define "slolab-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else if contains (include "slolab-operator.name" .) .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "slolab-operator.name" .) | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
slolab-operator.serviceAccountName: the operator's ServiceAccount. The operator names it as the
subject of the RoleBinding it creates in every lab namespace, so both must agree.
*/}}
{{- define "slolab-operator.serviceAccountName" -}}
{{- default (include "slolab-operator.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/*
slolab-operator.labRole / graderRole: the ClusterRoles the operator binds in each lab namespace,
one for itself and one for grading Jobs. Named here once because the Deployment passes the
names to the operator.
*/}}
{{- define "slolab-operator.labRole" -}}
{{- printf "%s-lab" (include "slolab-operator.fullname" .) }}
{{- end }}

{{- define "slolab-operator.graderRole" -}}
{{- printf "%s-grader" (include "slolab-operator.fullname" .) }}
{{- end }}

{{/*
slolab-operator.image: repository:tag, the tag defaulting to appVersion, so the image and the
chart move together.
*/}}
{{- define "slolab-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
slolab-operator.selectorLabels: what the Deployment selects its pod by; only name and instance,
because a Deployment's selector cannot change after creation.
*/}}
{{- define "slolab-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "slolab-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
slolab-operator.labels: the recommended labels on every object.
Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
*/}}
{{- define "slolab-operator.labels" -}}
{{ include "slolab-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: slolab
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}
