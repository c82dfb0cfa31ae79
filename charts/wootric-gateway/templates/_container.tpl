{{/*
The gateway container, used by the standalone Deployment and, in sidecar mode, by an application
chart that adds the gateway to its own pod:

  containers:
    {{- include "wootric-gateway.sidecarContainer" (dict "Values" (index .Values "wootric-gateway") "Release" .Release) | nindent 4 }}

It needs .Values (this chart's values) and .Release; .AppVersion is optional, so a sidecar must set
image.tag. The ConfigMap and Secret it reads are rendered by this chart under the same release,
in either mode.
*/}}
{{- define "wootric-gateway.sidecarContainer" -}}
- name: wootric-gateway
  image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .AppVersion | required "image.tag is required when the gateway runs as a sidecar" }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  ports:
    - name: proxy
      containerPort: {{ .Values.ports.proxy }}
      protocol: TCP
    - name: management
      containerPort: {{ .Values.ports.management }}
      protocol: TCP
  envFrom:
    - configMapRef:
        name: {{ include "wootric-gateway.fullname" . }}
  env:
    - name: Wootric__ClientId
      valueFrom:
        secretKeyRef:
          name: {{ include "wootric-gateway.secretName" . }}
          key: {{ .Values.secretKeys.clientId }}
          optional: true
    - name: Wootric__ClientSecret
      valueFrom:
        secretKeyRef:
          name: {{ include "wootric-gateway.secretName" . }}
          key: {{ .Values.secretKeys.clientSecret }}
          optional: true
    {{- $redis := include "wootric-gateway.redisConfiguration" . }}
    {{- if $redis }}
    {{- if include "wootric-gateway.redisAuth" . }}
    {{- /* Kubernetes expands $(NAME) from an earlier entry, so the password never sits in the ConfigMap. */}}
    - name: WOOTRIC_GATEWAY_REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ include "wootric-gateway.secretName" . }}
          key: {{ .Values.secretKeys.redisPassword }}
    - name: Redis__Configuration
      value: {{ printf "%s,password=$(WOOTRIC_GATEWAY_REDIS_PASSWORD)" $redis | quote }}
    {{- else }}
    - name: Redis__Configuration
      value: {{ $redis | quote }}
    {{- end }}
    {{- end }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: management
    {{- toYaml .Values.probes.liveness | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: management
    {{- toYaml .Values.probes.readiness | nindent 4 }}
  startupProbe:
    httpGet:
      path: /healthz
      port: management
    {{- toYaml .Values.probes.startup | nindent 4 }}
  {{- if .Values.preStopSleepSeconds }}
  lifecycle:
    preStop:
      exec:
        command: ["sleep", "{{ .Values.preStopSleepSeconds }}"]
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  volumeMounts:
    - name: wootric-gateway-tmp
      mountPath: /tmp
{{- end }}

{{/*
The volume the container mounts at /tmp, because its root filesystem is read-only. An
application chart in sidecar mode adds it to its pod's volumes:

  volumes:
    {{- include "wootric-gateway.sidecarVolumes" (dict "Values" (index .Values "wootric-gateway") "Release" .Release) | nindent 4 }}
*/}}
{{- define "wootric-gateway.sidecarVolumes" -}}
- name: wootric-gateway-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}
