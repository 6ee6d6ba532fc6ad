{{/*
Helm's own labels on every object, and commonLabels. deploy/default has
none of these; the comparison test (deploy/chart_compare_test.go) drops
helm.sh/chart, app.kubernetes.io/managed-by, app.kubernetes.io/instance and
app.kubernetes.io/version before it compares, and nothing else.
*/}}
{{- define "sparkcd.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The labels deploy/base gives its objects (kustomize `labels:`, not on
selectors or pod templates).
*/}}
{{- define "sparkcd.baseLabels" -}}
app.kubernetes.io/name: sparkcd
app.kubernetes.io/part-of: sparkcd
{{- end }}

{{/*
The labels of sparkcd's pods, which the Deployment, the Service, the
PodDisruptionBudget and the topology spread select.
*/}}
{{- define "sparkcd.selectorLabels" -}}
app.kubernetes.io/name: sparkcd
app.kubernetes.io/component: controller
{{- end }}

{{/*
The labels of a shard's pods (.Values.shards; takes the shard's name),
which its Deployment, Service and PodDisruptionBudget select.
*/}}
{{- define "sparkcd.shardSelectorLabels" -}}
app.kubernetes.io/name: sparkcd
app.kubernetes.io/component: shard
sparkcd.io/shard: {{ . | quote }}
{{- end }}

{{/*
metadata: of an object. Takes a dict: ctx (the root), name, namespace
(omitted when empty), labels (the object's own, as deploy/ writes them),
annotations (its own). Helm's labels and the common labels and
annotations are added.
*/}}
{{- define "sparkcd.metadata" -}}
{{- $ctx := .ctx -}}
{{- $labels := mergeOverwrite (include "sparkcd.helmLabels" $ctx | fromYaml) (.labels | default dict) -}}
{{- $annotations := mergeOverwrite (deepCopy ($ctx.Values.commonAnnotations | default dict)) (.annotations | default dict) -}}
metadata:
  name: {{ .name }}
  {{- with .namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- toYaml $labels | nindent 4 }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The image of the Deployment and the cleanup CronJob: repository@digest,
or repository:tag (the chart's appVersion when tag is empty).
*/}}
{{- define "sparkcd.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/*
The data of the ConfigMap sparkcd-config: config, then the cleanup's
settings (cleanup.*), which config may not set. The CronJob variant turns
the in-process cleanup off with an empty schedule, as
deploy/cleanup-cronjob does.
*/}}
{{- define "sparkcd.configData" -}}
{{- $data := dict -}}
{{- range $k, $v := .Values.config -}}
{{- if not (kindIs "invalid" $v) -}}
{{- $_ := set $data $k (toString $v) -}}
{{- end -}}
{{- end -}}
{{- $c := .Values.cleanup -}}
{{- $_ := set $data "SPARKCD_CLEANUP_SCHEDULE" (ternary "" $c.schedule $c.cronJob.enabled) -}}
{{- $_ := set $data "SPARKCD_SUCCEEDED_TTL" $c.succeededTTL -}}
{{- $_ := set $data "SPARKCD_FAILED_TTL" $c.failedTTL -}}
{{- with $c.namespaces -}}
{{- $_ := set $data "SPARKCD_CLEANUP_NAMESPACES" (join "," .) -}}
{{- end -}}
{{- if or $c.selector $c.selectorNamespaces -}}
{{- if not (and $c.selector $c.selectorNamespaces) -}}
{{- fail "cleanup.selector and cleanup.selectorNamespaces go together: set both, or neither" -}}
{{- end -}}
{{- $_ := set $data "SPARKCD_CLEANUP_SELECTOR" $c.selector -}}
{{- $_ := set $data "SPARKCD_CLEANUP_SELECTOR_NAMESPACES" (join "," $c.selectorNamespaces) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end }}

{{/*
"true" when policyFiles holds a file (a null removes one), else empty.
*/}}
{{- define "sparkcd.policyFiles" -}}
{{- range $k, $v := .Values.policyFiles -}}
{{- if not (kindIs "invalid" $v) }}true{{ break }}{{ end -}}
{{- end -}}
{{- end }}

{{/*
The data of the ConfigMap sparkcd-policies: one key per policy file.
*/}}
{{- define "sparkcd.policiesData" -}}
{{- $data := dict -}}
{{- range $k, $v := .Values.policyFiles -}}
{{- if not (kindIs "invalid" $v) -}}
{{- $_ := set $data $k $v -}}
{{- end -}}
{{- end -}}
{{- toYaml $data -}}
{{- end }}
