{{/*
Expand the name of the chart.
*/}}
{{- define "salesplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name (truncated to 63 chars, the DNS label limit).
If the release name contains the chart name it is used as the full name.
*/}}
{{- define "salesplane.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "salesplane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels (release-wide).
*/}}
{{- define "salesplane.labels" -}}
helm.sh/chart: {{ include "salesplane.chart" . }}
{{ include "salesplane.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "salesplane.name" . }}
{{- end }}

{{/*
Selector labels (release-wide).
*/}}
{{- define "salesplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "salesplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Resource name of a workload: "<fullname>-<workload>".
Call with (dict "root" $ "workload" "leads") or "leads-relay".
*/}}
{{- define "salesplane.workloadName" -}}
{{- printf "%s-%s" (include "salesplane.fullname" .root) .workload | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of a workload. Call with (dict "root" $ "workload" "leads").
*/}}
{{- define "salesplane.workloadSelectorLabels" -}}
{{ include "salesplane.selectorLabels" .root }}
app.kubernetes.io/component: {{ .workload }}
{{- end }}

{{/*
All labels of a workload. Call with (dict "root" $ "workload" "leads").
*/}}
{{- define "salesplane.workloadLabels" -}}
{{ include "salesplane.labels" .root }}
app.kubernetes.io/component: {{ .workload }}
{{- end }}

{{/*
Image reference of a component. Call with (dict "root" $ "component" $c).
Tag precedence: component image.tag, global image.tag, .Chart.AppVersion.
*/}}
{{- define "salesplane.image" -}}
{{- $root := .root }}
{{- $img := .component.image | default dict }}
{{- $repo := required "components.<name>.image.repository is required" $img.repository }}
{{- $tag := $img.tag | default $root.Values.image.tag | default $root.Chart.AppVersion }}
{{- if $root.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" $root.Values.image.registry) $repo (toString $tag) }}
{{- else }}
{{- printf "%s:%s" $repo (toString $tag) }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount used by every pod.
*/}}
{{- define "salesplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "salesplane.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the auth secret and the database URLs.
*/}}
{{- define "salesplane.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "salesplane.fullname" . }}
{{- end }}
{{- end }}

{{/*
Secret key of a component's database URL. Call with the component name.
*/}}
{{- define "salesplane.databaseUrlKey" -}}
{{- printf "%s-database-url" . }}
{{- end }}

{{/*
pod terminationGracePeriodSeconds: explicit value, or preStop sleep + shutdown grace + 5s.
*/}}
{{- define "salesplane.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.config.terminationGracePeriodSeconds }}
{{- add (int .Values.config.preStopSleepSeconds) (int .Values.config.shutdownGraceSeconds) 5 }}
{{- else }}
{{- int .Values.config.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Validate a component entry; fails the render with a clear message. Call with (dict "name" $name "component" $c).
*/}}
{{- define "salesplane.validateComponent" -}}
{{- $name := .name }}
{{- $c := .component }}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $name) }}
{{- fail (printf "components.%s: component names must be lowercase DNS labels" $name) }}
{{- end }}
{{- if not (has $c.type (list "grpc" "http")) }}
{{- fail (printf "components.%s.type must be \"grpc\" or \"http\", got %v" $name $c.type) }}
{{- end }}
{{- if eq $c.type "grpc" }}
{{- if not (and $c.ports $c.ports.grpc) }}
{{- fail (printf "components.%s.ports.grpc is required for gRPC components" $name) }}
{{- end }}
{{- if and $c.split $c.split.enabled (not $c.ports.metrics) }}
{{- fail (printf "components.%s.split.enabled needs ports.metrics (workers are probed and scraped there)" $name) }}
{{- end }}
{{- if and $c.roles (not (and $c.split $c.split.enabled)) (not (has "api" $c.roles)) }}
{{- fail (printf "components.%s.roles must include api (the gRPC probes need it); use split mode for relay/consumer-only Deployments" $name) }}
{{- end }}
{{- range ($c.roles | default list) }}
{{- if not (has . (list "api" "relay" "consumer")) }}
{{- fail (printf "components.%s.roles: unknown role %v (allowed: api, relay, consumer)" $name .) }}
{{- end }}
{{- end }}
{{- else }}
{{- if not (and $c.ports $c.ports.http) }}
{{- fail (printf "components.%s.ports.http is required for http components" $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"true" when config.environment is a development one (development tokens, a shared secret), else "".
*/}}
{{- define "salesplane.development" -}}
{{- if has (lower (toString .Values.config.environment)) (list "development" "dev") }}true{{- end }}
{{- end }}
