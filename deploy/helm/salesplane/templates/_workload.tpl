{{/*
Effective autoscaling settings of a component: globals merged with the component's overrides.
Call with (dict "root" $ "component" $c). Returns YAML; use with fromYaml.
*/}}
{{- define "salesplane.autoscaling" -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.autoscaling) (deepCopy (.component.autoscaling | default dict))) }}
{{- end }}

{{/*
Effective PodDisruptionBudget settings of a component (see salesplane.autoscaling).
*/}}
{{- define "salesplane.podDisruptionBudget" -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.podDisruptionBudget) (deepCopy (.component.podDisruptionBudget | default dict))) }}
{{- end }}

{{/*
Environment of a component container.
Call with (dict "root" $ "name" $name "component" $c "roles" "api,relay").
Plain settings computed by the chart are overridden by config.env, then by the component's env.
*/}}
{{- define "salesplane.env" -}}
{{- $root := .root }}
{{- $name := .name }}
{{- $c := .component }}
{{- $plain := dict }}
{{- $_ := set $plain "SALESPLANE_SERVICE_NAME" $name }}
{{- $_ := set $plain "SALESPLANE_ENV" (toString $root.Values.config.environment) }}
{{- $_ := set $plain "SALESPLANE_LOG_LEVEL" (toString $root.Values.config.logLevel) }}
{{- $_ := set $plain "SALESPLANE_SHUTDOWN_GRACE_SECONDS" (toString (int $root.Values.config.shutdownGraceSeconds)) }}
{{- $oidc := $root.Values.auth.oidc }}
{{- if $oidc.issuer }}
{{- $_ := set $plain "SALESPLANE_OIDC_ISSUER" (toString $oidc.issuer) }}
{{- $_ := set $plain "SALESPLANE_OIDC_AUDIENCE" (required "auth.oidc.audience is required" $oidc.audience | toString) }}
{{- with $oidc.jwksUrl }}
{{- $_ := set $plain "SALESPLANE_OIDC_JWKS_URL" (toString .) }}
{{- end }}
{{- $_ := set $plain "SALESPLANE_OIDC_USER_CLAIM" (toString $oidc.userClaim) }}
{{- /* Service clients: those listed, and each enabled component's own (its principal is
service:<component>, the name the services' allow-lists use). */}}
{{- $serviceClients := list }}
{{- range $oidc.serviceClients }}
{{- $serviceClients = append $serviceClients (toString .) }}
{{- end }}
{{- range $component, $other := $root.Values.components }}
{{- $otherClient := ($other.serviceClient | default dict) }}
{{- if and $other.enabled $otherClient.clientId }}
{{- $serviceClients = append $serviceClients (printf "%s=%s" (toString $otherClient.clientId) $component) }}
{{- end }}
{{- end }}
{{- with $serviceClients }}
{{- $_ := set $plain "SALESPLANE_OIDC_SERVICE_CLIENTS" (join "," .) }}
{{- end }}
{{- $_ := set $plain "SALESPLANE_OIDC_ALGORITHMS" (join "," $oidc.algorithms) }}
{{- $_ := set $plain "SALESPLANE_OIDC_LEEWAY_SECONDS" (toString (int $oidc.leewaySeconds)) }}
{{- else if not (include "salesplane.development" $root) }}
{{- fail "auth.oidc.issuer is required: outside config.environment=development tokens are verified by an OpenID Connect provider's keys" }}
{{- end }}
{{- with $root.Values.tracing.otlpEndpoint }}
{{- $_ := set $plain "OTEL_EXPORTER_OTLP_ENDPOINT" (toString .) }}
{{- $_ := set $plain "OTEL_SERVICE_NAME" $name }}
{{- $_ := set $plain "OTEL_TRACES_SAMPLER" "parentbased_traceidratio" }}
{{- $_ := set $plain "OTEL_TRACES_SAMPLER_ARG" (toString $root.Values.tracing.sampleRatio) }}
{{- end }}
{{- if eq $c.type "grpc" }}
{{- $_ := set $plain "SALESPLANE_GRPC_PORT" (toString (int $c.ports.grpc)) }}
{{- if $c.ports.metrics }}
{{- $_ := set $plain "SALESPLANE_METRICS_PORT" (toString (int $c.ports.metrics)) }}
{{- end }}
{{- $_ := set $plain "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS" (toString $root.Values.kafka.bootstrapServers) }}
{{- with $root.Values.kafka.topicPrefix }}
{{- $_ := set $plain "SALESPLANE_TOPIC_PREFIX" (toString .) }}
{{- end }}
{{- $_ := set $plain "SALESPLANE_DATA_DIR" (toString $root.Values.config.dataDir) }}
{{- $_ := set $plain "SALESPLANE_BASE_CURRENCY" (toString $root.Values.config.baseCurrency) }}
{{- if .roles }}
{{- $_ := set $plain "SALESPLANE_ROLES" .roles }}
{{- end }}
{{- else }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_PORT" (toString (int $c.ports.http)) }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_METRICS_PORT" (toString (int ($c.ports.metrics | default 0))) }}
{{- with ($c.browserLogin | default dict) }}
{{- if .clientId }}
{{- $_ := set $plain "SALESPLANE_OIDC_CLIENT_ID" (toString .clientId) }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_PUBLIC_URL" (required "components.gateway.browserLogin.publicUrl is required with a clientId" .publicUrl | toString) }}
{{- end }}
{{- end }}
{{- with $c.edge }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND" (toString .rateLimit.perSecond) }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_RATE_LIMIT_BURST" (toString (int .rateLimit.burst)) }}
{{- $proxies := ternary 1 0 (and $root.Values.ingress.enabled true) }}
{{- if not (kindIs "invalid" .trustedProxies) }}
{{- $proxies = int .trustedProxies }}
{{- end }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_TRUSTED_PROXIES" (toString $proxies) }}
{{- with .cors.origins }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_CORS_ORIGINS" (join "," .) }}
{{- end }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_CORS_ALLOW_CREDENTIALS" (toString .cors.allowCredentials) }}
{{- $_ := set $plain "SALESPLANE_GATEWAY_CORS_MAX_AGE_SECONDS" (toString (int .cors.maxAgeSeconds)) }}
{{- end }}
{{- end }}
{{- /* gRPC targets of other components: the gateway's upstreams, leads' opportunities,
forecasting's leads and opportunities. */}}
{{- range $target, $override := ($c.targets | default dict) }}
{{- $envName := printf "SALESPLANE_%s_TARGET" (upper (replace "-" "_" $target)) }}
{{- if $override }}
{{- $_ := set $plain $envName (toString $override) }}
{{- else }}
{{- $backend := index $root.Values.components $target | default dict }}
{{- if and $backend.enabled (eq (toString $backend.type) "grpc") }}
{{- $_ := set $plain $envName (printf "%s:%d" (include "salesplane.workloadName" (dict "root" $root "workload" $target)) (int $backend.ports.grpc)) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* The component's own OAuth client, for the tokens it calls other components with. */}}
{{- $client := ($c.serviceClient | default dict) }}
{{- with $client.clientId }}
{{- $_ := set $plain "SALESPLANE_OIDC_CLIENT_ID" (toString .) }}
{{- end }}
{{- $plain = mergeOverwrite $plain (deepCopy ($root.Values.config.env | default dict)) (deepCopy ($c.env | default dict)) }}
{{- range $key := keys $plain | sortAlpha }}
- name: {{ $key }}
  value: {{ index $plain $key | toString | quote }}
{{- end }}
{{- if and (eq $c.type "grpc") (not (hasKey $plain "SALESPLANE_DATABASE_URL")) }}
- name: SALESPLANE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "salesplane.secretName" $root }}
      key: {{ include "salesplane.databaseUrlKey" $name }}
{{- end }}
{{- if and (eq $c.type "grpc") (not (hasKey $plain "SALESPLANE_CONSUMER_INSTANCE_ID")) }}
{{- /* The pod's name as the consumer's static group membership id: a pod restarted in place
takes its partitions straight back instead of waiting out the session timeout. */}}
- name: SALESPLANE_CONSUMER_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
{{- if and (include "salesplane.development" $root) (not (hasKey $plain "SALESPLANE_AUTH_SECRET")) }}
- name: SALESPLANE_AUTH_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "salesplane.secretName" $root }}
      key: auth-secret
{{- end }}
{{- if and $client.clientId (not (hasKey $plain "SALESPLANE_OIDC_CLIENT_SECRET")) }}
- name: SALESPLANE_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "components.%s.serviceClient.secretName is required with a clientId" $name) $client.secretName }}
      key: {{ $client.secretKey | default "client-secret" }}
{{- end }}
{{- $login := ($c.browserLogin | default dict) }}
{{- if $login.clientId }}
{{- $loginSecret := required "components.gateway.browserLogin.secretName is required with a clientId" $login.secretName }}
- name: SALESPLANE_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $loginSecret }}
      key: {{ $login.clientSecretKey | default "client-secret" }}
- name: SALESPLANE_GATEWAY_SESSION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $loginSecret }}
      key: {{ $login.sessionKeysKey | default "session-keys" }}
{{- end }}
{{- with $c.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Probes of a component container. Call with (dict "root" $ "component" $c "worker" <bool>).
gRPC API pods: native gRPC probes; split-mode workers (no gRPC server): HTTP on the
metrics port; the gateway: HTTP on /healthz and /readyz.
*/}}
{{- define "salesplane.probes" -}}
{{- $c := .component }}
{{- if .worker }}
{{- $probes := mergeOverwrite (deepCopy .root.Values.probes.worker) (deepCopy ($c.workerProbes | default dict)) }}
{{- range $kind := list "startup" "liveness" "readiness" }}
{{- $p := index $probes $kind }}
{{- if $p }}
{{ $kind }}Probe:
  httpGet:
    path: {{ $p.path | default "/livez" }}
    port: metrics
  {{- toYaml (omit $p "path") | nindent 2 }}
{{- end }}
{{- end }}
{{- else if eq $c.type "grpc" }}
{{- $probes := mergeOverwrite (deepCopy .root.Values.probes.grpc) (deepCopy ($c.probes | default dict)) }}
{{- range $kind := list "startup" "liveness" "readiness" }}
{{- $p := index $probes $kind }}
{{- if $p }}
{{ $kind }}Probe:
  grpc:
    port: {{ int $c.ports.grpc }}
    {{- with $p.service }}
    service: {{ . | quote }}
    {{- end }}
  {{- toYaml (omit $p "service") | nindent 2 }}
{{- end }}
{{- end }}
{{- else }}
{{- $probes := mergeOverwrite (deepCopy .root.Values.probes.http) (deepCopy ($c.probes | default dict)) }}
{{- range $kind := list "startup" "liveness" "readiness" }}
{{- $p := index $probes $kind }}
{{- if $p }}
{{ $kind }}Probe:
  httpGet:
    path: {{ $p.path | default "/healthz" }}
    port: http
  {{- toYaml (omit $p "path") | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A Deployment. Call with
  (dict "root" $ "name" <component name> "component" <component values>
        "workload" <name or name-role> "roles" <SALESPLANE_ROLES or "">
        "replicas" <int> "resources" <map> "main" <bool>)
Only main workloads are scaled by the HPA.
*/}}
{{- define "salesplane.deployment" -}}
{{- $root := .root }}
{{- $c := .component }}
{{- $wctx := dict "root" $root "workload" .workload }}
{{- $autoscaling := include "salesplane.autoscaling" (dict "root" $root "component" $c) | fromYaml }}
{{- $podAnnotations := dict }}
{{- if not $root.Values.secrets.existingSecret }}
{{- $_ := set $podAnnotations "checksum/secret" (toJson $root.Values.secrets | sha256sum) }}
{{- end }}
{{- $podAnnotations = mergeOverwrite $podAnnotations (deepCopy ($root.Values.podAnnotations | default dict)) }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "salesplane.workloadName" $wctx }}
  labels:
    {{- include "salesplane.workloadLabels" $wctx | nindent 4 }}
spec:
  {{- if not (and .main $autoscaling.enabled) }}
  replicas: {{ int .replicas }}
  {{- end }}
  revisionHistoryLimit: {{ int $root.Values.revisionHistoryLimit }}
  {{- with $root.Values.updateStrategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "salesplane.workloadSelectorLabels" $wctx | nindent 6 }}
  template:
    metadata:
      {{- with $podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      labels:
        {{- include "salesplane.workloadLabels" $wctx | nindent 8 }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "salesplane.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
      # Service links would inject SALESPLANE_*_PORT/_HOST variables that collide with settings.
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ include "salesplane.terminationGracePeriodSeconds" $root }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ($c.priorityClassName | default $root.Values.priorityClassName) }}
      priorityClassName: {{ . }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "salesplane.image" (dict "root" $root "component" $c) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            {{- if eq $c.type "grpc" }}
            - name: grpc
              containerPort: {{ int $c.ports.grpc }}
              protocol: TCP
            {{- if $c.ports.metrics }}
            - name: metrics
              containerPort: {{ int $c.ports.metrics }}
              protocol: TCP
            {{- end }}
            {{- else }}
            - name: http
              containerPort: {{ int $c.ports.http }}
              protocol: TCP
            {{- if $c.ports.metrics }}
            - name: metrics
              containerPort: {{ int $c.ports.metrics }}
              protocol: TCP
            {{- end }}
            {{- end }}
          env:
            {{- include "salesplane.env" (dict "root" $root "name" .name "component" $c "roles" .roles) | nindent 12 }}
          {{- include "salesplane.probes" (dict "root" $root "component" $c "worker" (not .main)) | nindent 10 }}
          {{- if gt (int $root.Values.config.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", "{{ int $root.Values.config.preStopSleepSeconds }}"]
          {{- end }}
          {{- with .resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $root.Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            {{- with $root.Values.tmpVolume.medium }}
            medium: {{ . }}
            {{- end }}
            {{- with $root.Values.tmpVolume.sizeLimit }}
            sizeLimit: {{ . }}
            {{- end }}
      {{- with ($c.nodeSelector | default $root.Values.nodeSelector) }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ($c.affinity | default $root.Values.affinity) }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ($c.tolerations | default $root.Values.tolerations) }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $root.Values.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ int $root.Values.topologySpread.maxSkew }}
          topologyKey: {{ $root.Values.topologySpread.topologyKey }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "salesplane.workloadSelectorLabels" $wctx | nindent 14 }}
          matchLabelKeys:
            - pod-template-hash
      {{- end }}
{{- end }}

{{/*
A Service. Call with (dict "root" $ "component" $c "workload" <name> "metricsOnly" <bool>).
Services exposing a metrics port carry the label salesplane.io/metrics=true (ServiceMonitor selector).
*/}}
{{- define "salesplane.service" -}}
{{- $root := .root }}
{{- $c := .component }}
{{- $wctx := dict "root" $root "workload" .workload }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "salesplane.workloadName" $wctx }}
  labels:
    {{- include "salesplane.workloadLabels" $wctx | nindent 4 }}
    {{- if $c.ports.metrics }}
    salesplane.io/metrics: "true"
    {{- end }}
  {{- with $root.Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ if .metricsOnly }}ClusterIP{{ else }}{{ $root.Values.service.type }}{{ end }}
  selector:
    {{- include "salesplane.workloadSelectorLabels" $wctx | nindent 4 }}
  ports:
    {{- if eq $c.type "grpc" }}
    {{- if not .metricsOnly }}
    - name: grpc
      port: {{ int $c.ports.grpc }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
    {{- end }}
    {{- if $c.ports.metrics }}
    - name: metrics
      port: {{ int $c.ports.metrics }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
    {{- end }}
    {{- else }}
    - name: http
      port: {{ int $c.ports.http }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    {{- if $c.ports.metrics }}
    - name: metrics
      port: {{ int $c.ports.metrics }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
    {{- end }}
    {{- end }}
{{- end }}
