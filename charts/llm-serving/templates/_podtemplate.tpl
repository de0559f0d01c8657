{{/*
llm-serving.podTemplate: the pod template (metadata and spec) of the model server, at the
indentation of spec.template in a Deployment. The Deployment and the Argo Rollout both
include it after their `template:` line, so the two can never describe different pods.
*/}}
{{- define "llm-serving.podTemplate" }}
{{- $image := include "llm-serving.image" . | fromJson }}
{{- $server := .Values.server }}
    metadata:
      labels:
        {{- include "llm-serving.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      # Seconds between SIGTERM and SIGKILL when the pod is stopped.
      terminationGracePeriodSeconds: {{ int .Values.terminationGracePeriodSeconds }}
      {{- if or .Values.nodeSelector .Values.tolerations .Values.affinity }}
      # Scheduling: which nodes the pod may run on.
      # https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .Values.engine }}
          image: "{{ $image.repository }}:{{ $image.tag }}"
          imagePullPolicy: {{ $image.pullPolicy | default "IfNotPresent" }}
          {{- if eq .Values.engine "slolab-serve" }}
          # slolab serve: an OpenAI-compatible server that simulates an engine preset.
          command: ["slolab", "serve"]
          args:
            - {{ printf "--preset=%s" .Values.model.preset | quote }}
            - {{ printf "--served-model-name=%s" .Values.model.name | quote }}
            - {{ printf "--port=%d" (int $server.port) | quote }}
            - {{ printf "--max-model-len=%d" (int $server.maxModelLen) | quote }}
            - {{ printf "--max-num-seqs=%d" (int $server.maxNumSeqs) | quote }}
            - {{ printf "--max-num-batched-tokens=%d" (int $server.maxNumBatchedTokens) | quote }}
            - {{ printf "--load-time-s=%d" (int .Values.model.loadTimeSeconds) | quote }}
            {{- range $server.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          {{- else if eq .Values.engine "vllm" }}
          # vLLM engine arguments: https://docs.vllm.ai/en/stable/configuration/engine_args.html
          command: ["vllm", "serve"]
          args:
            - {{ .Values.model.path | quote }}
            - {{ printf "--served-model-name=%s" .Values.model.name | quote }}
            - {{ printf "--port=%d" (int $server.port) | quote }}
            - {{ printf "--max-model-len=%d" (int $server.maxModelLen) | quote }}
            - {{ printf "--max-num-seqs=%d" (int $server.maxNumSeqs) | quote }}
            - {{ printf "--max-num-batched-tokens=%d" (int $server.maxNumBatchedTokens) | quote }}
            - {{ printf "--gpu-memory-utilization=%v" $server.gpuMemoryUtilization | quote }}
            {{- range $server.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          {{- else }}
          # llm-d-inference-sim flags: https://github.com/llm-d/llm-d-inference-sim/blob/main/docs/configuration.md
          args:
            - {{ printf "--model=%s" .Values.model.name | quote }}
            - {{ printf "--port=%d" (int $server.port) | quote }}
            - {{ printf "--max-num-seqs=%d" (int $server.maxNumSeqs) | quote }}
            - {{ printf "--max-model-len=%d" (int $server.maxModelLen) | quote }}
            - {{ printf "--startup-duration=%ds" (int .Values.model.loadTimeSeconds) | quote }}
            {{- range $server.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          {{- end }}
          ports:
            - name: http
              containerPort: {{ int $server.port }}
              protocol: TCP
          {{- with .Values.resources }}
          # requests: what the scheduler reserves on a node; limits: the most the container may use.
          # https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- if or .Values.startupProbe .Values.readinessProbe .Values.livenessProbe }}
          # Probes: startupProbe holds off the other two until it first succeeds;
          # readinessProbe decides whether the Service sends the pod traffic;
          # livenessProbe restarts the container after failureThreshold failures in a row.
          # https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
          {{- end }}
          {{- with .Values.startupProbe }}
          startupProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.readinessProbe }}
          readinessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.livenessProbe }}
          livenessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- if eq .Values.engine "vllm" }}
          volumeMounts:
            - name: dshm
              mountPath: /dev/shm
      # /dev/shm backed by memory: shared memory between the engine's processes
      # (the container runtime's default is 64 MiB).
      volumes:
        - name: dshm
          emptyDir:
            medium: Memory
            sizeLimit: 2Gi
          {{- end }}
{{- end }}
