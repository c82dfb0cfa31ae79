{{/*
Chart name. The default is a literal rather than .Chart.Name, so the sidecar templates give the
same names when an application chart calls them with its own .Chart.
*/}}
{{- define "wootric-gateway.name" -}}
{{- default "wootric-gateway" .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects, at most 63 characters (the DNS label limit).
*/}}
{{- define "wootric-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "wootric-gateway.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wootric-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wootric-gateway.labels" -}}
helm.sh/chart: {{ include "wootric-gateway.chart" . }}
{{ include "wootric-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: name and instance only, because a Deployment's selector cannot change.
*/}}
{{- define "wootric-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wootric-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector labels of the gateway pods. The component label keeps the bundled Redis pod, which
shares name and instance, out of the gateway's Services and budgets.
*/}}
{{- define "wootric-gateway.gatewaySelectorLabels" -}}
{{ include "wootric-gateway.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "wootric-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wootric-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret with the credentials: existingSecret or the chart's own.
*/}}
{{- define "wootric-gateway.secretName" -}}
{{- default (include "wootric-gateway.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
Redis configuration string without the password; empty when state stays in memory.
*/}}
{{- define "wootric-gateway.redisConfiguration" -}}
{{- if .Values.redis.configuration }}
{{- .Values.redis.configuration }}
{{- else if .Values.redis.bundled.enabled }}
{{- printf "%s-redis:6379" (include "wootric-gateway.fullname" .) }}
{{- end }}
{{- end }}

{{/*
"true" when the Redis password is read from the Secret: redis.auth is on, or the chart's own
Secret gets redis.password.
*/}}
{{- define "wootric-gateway.redisAuth" -}}
{{- if or .Values.redis.auth (and (not .Values.existingSecret) .Values.redis.password) }}true{{ end }}
{{- end }}

{{/*
Flattens a nested map or list into ConfigMap entries with ASP.NET Core's "__" separator:
{A: {B: [x]}} becomes A__B__0: "x". Called with (dict "prefix" "" "value" MAP).
*/}}
{{- define "wootric-gateway.flatten" -}}
{{- $prefix := .prefix }}
{{- if kindIs "map" .value }}
{{- range $key, $item := .value }}
{{- $name := ternary $key (printf "%s__%s" $prefix $key) (eq $prefix "") }}
{{- include "wootric-gateway.flatten" (dict "prefix" $name "value" $item) }}
{{- end }}
{{- else if kindIs "slice" .value }}
{{- range $index, $item := .value }}
{{- include "wootric-gateway.flatten" (dict "prefix" (printf "%s__%d" $prefix $index) "value" $item) }}
{{- end }}
{{- else if kindIs "float64" .value }}
{{- /* Helm reads numbers as float64: print whole numbers without an exponent. */}}
{{ $prefix }}: {{ ternary (.value | int64 | toString) (.value | toString) (eq .value (.value | int64 | float64)) | quote }}
{{- else if not (kindIs "invalid" .value) }}
{{ $prefix }}: {{ .value | toString | quote }}
{{- end }}
{{- end }}

{{/*
One ConfigMap entry for a value that may be null: nothing when it is null or empty.
Called with (dict "key" "Tap__MaxJsonDepth" "value" VALUE).
*/}}
{{- define "wootric-gateway.optionalEntry" -}}
{{- if not (or (kindIs "invalid" .value) (eq (toString .value) "")) }}
{{- include "wootric-gateway.flatten" (dict "prefix" .key "value" .value) }}
{{- end }}
{{- end }}

{{/*
The ConfigMap's entries, one "Key: value" line each: listener URLs and upstream, every value that
is set, then extraConfig. Each optional entry starts with its own newline.
*/}}
{{- define "wootric-gateway.configEntries" -}}
Kestrel__Endpoints__Proxy__Url: {{ printf "http://0.0.0.0:%v" .Values.ports.proxy | quote }}
Kestrel__Endpoints__Management__Url: {{ printf "http://0.0.0.0:%v" .Values.ports.management | quote }}
Upstream__Address: {{ required "gateway.upstreamAddress is required: the address traffic is forwarded to" .Values.gateway.upstreamAddress | quote }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Gateway__PathPrefix" "value" .Values.gateway.pathPrefix) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Gateway__InlineScheduling" "value" .Values.gateway.inlineScheduling) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Wootric__AccountToken" "value" .Values.wootric.accountToken) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Wootric__ApiBaseUrl" "value" .Values.wootric.apiBaseUrl) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Wootric__AuthBaseUrl" "value" .Values.wootric.authBaseUrl) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Wootric__PageVisits" "value" .Values.wootric.pageVisits) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Wootric__RequestsPerMinute" "value" .Values.wootric.requestsPerMinute) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Wootric__WriteKeys" "value" .Values.wootric.writeKeys) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Tap__CaptureLimitBytes" "value" .Values.tap.captureLimitBytes) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Tap__MaxDecodedBytes" "value" .Values.tap.maxDecodedBytes) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Tap__MaxJsonDepth" "value" .Values.tap.maxJsonDepth) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Tap__QueueCapacity" "value" .Values.tap.queueCapacity) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Tap__QueueCapacityBytes" "value" .Values.tap.queueCapacityBytes) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Tap__ParserCpuShare" "value" .Values.tap.parserCpuShare) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Tap__ParserNice" "value" .Values.tap.parserNice) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Delivery__Concurrency" "value" .Values.delivery.concurrency) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Delivery__MaxAttempts" "value" .Values.delivery.maxAttempts) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Delivery__RetryBaseDelay" "value" .Values.delivery.retryBaseDelay) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Delivery__RetryMaxDelay" "value" .Values.delivery.retryMaxDelay) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Delivery__LeaseDuration" "value" .Values.delivery.leaseDuration) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Redis__KeyPrefix" "value" .Values.redis.keyPrefix) }}
{{- include "wootric-gateway.optionalEntry" (dict "key" "Redis__ClaimIdleTimeout" "value" .Values.redis.claimIdleTimeout) }}
{{- include "wootric-gateway.flatten" (dict "prefix" "" "value" .Values.extraConfig) }}
{{- end }}
