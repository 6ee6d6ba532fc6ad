{{/*
The Deployment of sparkcd (shard ""), or of one of the shards of
.Values.shards (docs/scaling.md; deploy/components/shard): the shard's
pods have labels of their own, so that no other instance's Deployment,
PodDisruptionBudget or Service selects them, and its topology spread
constraints select its own pods. Takes a dict: ctx (the root), shard.
*/}}
{{- define "sparkcd.deployment" -}}
{{- $ctx := .ctx -}}
{{- $shard := .shard -}}
{{- $name := "sparkcd" -}}
{{- $selector := include "sparkcd.selectorLabels" $ctx | fromYaml -}}
{{- $spread := $ctx.Values.topologySpreadConstraints -}}
{{- if $shard -}}
{{- $name = printf "sparkcd-%s" $shard -}}
{{- $selector = include "sparkcd.shardSelectorLabels" $shard | fromYaml -}}
{{- $spread = list -}}
{{- range $ctx.Values.topologySpreadConstraints -}}
{{- $c := deepCopy . -}}
{{- if and $c.labelSelector $c.labelSelector.matchLabels -}}
{{- $_ := set $c.labelSelector "matchLabels" $selector -}}
{{- end -}}
{{- $spread = append $spread $c -}}
{{- end -}}
{{- end -}}
{{- $policyFiles := include "sparkcd.policyFiles" $ctx }}
{{- $podAnnotations := dict "checksum/config" (include "sparkcd.configData" $ctx | sha256sum) }}
{{- if $policyFiles }}
{{- $_ := set $podAnnotations "checksum/policies" (include "sparkcd.policiesData" $ctx | sha256sum) }}
{{- end }}
{{- $podAnnotations = mergeOverwrite $podAnnotations $ctx.Values.podAnnotations }}
apiVersion: apps/v1
kind: Deployment
{{ include "sparkcd.metadata" (dict "ctx" $ctx "name" $name "namespace" $ctx.Release.Namespace "labels" (include "sparkcd.baseLabels" $ctx | fromYaml)) }}
spec:
  replicas: {{ $ctx.Values.replicas }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- toYaml $selector | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- toYaml $selector | nindent 8 }}
        {{- with $ctx.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- toYaml $podAnnotations | nindent 8 }}
    spec:
      serviceAccountName: {{ $ctx.Values.serviceAccount.name }}
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $ctx.Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      # The leader releases its Lease on SIGTERM and stops its loops within
      # 30 seconds; the rest is margin.
      terminationGracePeriodSeconds: 60
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      {{- with $ctx.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $ctx.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $ctx.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $spread }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: sparkcd
          image: {{ include "sparkcd.image" $ctx }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          # Settings tied to this pod's volumes are flags; everything a
          # platform team tunes comes from the sparkcd-config ConfigMap as
          # SPARKCD_* variables (a flag wins over its variable).
          args:
            - serve
            - --leader-elect
            - --health-addr=:8081
            - --metrics-addr=:8080
            - --webhook-addr=:9292
            - --cache-dir=/var/cache/sparkcd
            {{- if $shard }}
            - --shard={{ $shard }}
            {{- else if $ctx.Values.shards }}
            - --watch-label-selector=!sparkcd.io/shard
            {{- end }}
            {{- if $policyFiles }}
            - --policies=/etc/sparkcd/policies
            {{- end }}
            {{- with $ctx.Values.extraArgs }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          envFrom:
            - configMapRef:
                name: sparkcd-config
          env:
            # The namespace of the leader-election Lease.
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            # The Go runtime collects harder near the memory limit instead
            # of being killed at it.
            - name: GOMEMLIMIT
              valueFrom:
                resourceFieldRef:
                  resource: limits.memory
            {{- with $ctx.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: metrics
              containerPort: 8080
              protocol: TCP
            - name: healthz
              containerPort: 8081
              protocol: TCP
            - name: webhook
              containerPort: 9292
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: healthz
            initialDelaySeconds: 5
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: healthz
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 3
          {{- with $ctx.Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities:
              drop: ["ALL"]
            seccompProfile:
              type: RuntimeDefault
          volumeMounts:
            - name: cache
              mountPath: /var/cache/sparkcd
            - name: tmp
              mountPath: /tmp
            {{- if $policyFiles }}
            - name: policies
              mountPath: /etc/sparkcd/policies
              readOnly: true
            {{- end }}
      volumes:
        # Git checkouts: a cache a new pod fills again with one clone per
        # JobSource.
        - name: cache
          emptyDir:
            sizeLimit: {{ $ctx.Values.cacheSizeLimit }}
        - name: tmp
          emptyDir:
            sizeLimit: {{ $ctx.Values.tmpSizeLimit }}
        {{- if $policyFiles }}
        - name: policies
          configMap:
            name: sparkcd-policies
        {{- end }}
{{- end }}
