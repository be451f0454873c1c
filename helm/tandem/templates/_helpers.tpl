{{/*
Base name of every object: the release name (conventions.md fixes <release>-rw, <release>-ro,
<release>-cluster-secret, <release>-cluster-state and <release>-controller).
*/}}
{{- define "tandem.fullname" -}}
{{- if gt (len .Release.Name) 40 -}}
{{- fail (printf "release name %q is longer than 40 characters: derived names such as <release>-replica-headless would not fit Kubernetes limits" .Release.Name) -}}
{{- end -}}
{{- .Release.Name -}}
{{- end -}}

{{- define "tandem.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name + instance (+ component, given as .component). */}}
{{- define "tandem.selectorLabels" -}}
app.kubernetes.io/name: tandem
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{- define "tandem.labels" -}}
{{ include "tandem.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: tandem
helm.sh/chart: {{ include "tandem.chart" .root }}
{{- end -}}

{{- define "tandem.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .name (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{- define "tandem.secretName" -}}
{{- default (printf "%s-cluster-secret" (include "tandem.fullname" .)) .Values.cluster.secret.existingSecret -}}
{{- end -}}

{{- define "tandem.headlessName" -}}
{{- printf "%s-replica-headless" (include "tandem.fullname" .) -}}
{{- end -}}

{{- define "tandem.controllerServiceAccount" -}}
{{- default (printf "%s-controller" (include "tandem.fullname" .)) .Values.controller.serviceAccount.name -}}
{{- end -}}

{{/*
The replica list (conventions.md: id=host:port,...): each StatefulSet pod by its stable DNS
name in the headless Service. The id is the pod name, which is also TANDEM_REPLICA_ID.
*/}}
{{- define "tandem.replicaList" -}}
{{- $name := include "tandem.fullname" . -}}
{{- $headless := include "tandem.headlessName" . -}}
{{- $entries := list -}}
{{- range $i, $_ := until (int .Values.replica.replicas) -}}
{{- $pod := printf "%s-replica-%d" $name $i -}}
{{- $entries = append $entries (printf "%s=%s.%s.%s.svc.%s:8080" $pod $pod $headless $.Release.Namespace $.Values.clusterDomain) -}}
{{- end -}}
{{- join "," $entries -}}
{{- end -}}

{{/* How every container receives the cluster secret (cluster.secret.mode). */}}
{{- define "tandem.secretEnv" -}}
{{- if eq .Values.cluster.secret.mode "file" }}
- name: TANDEM_CLUSTER_SECRET_FILE
  value: /etc/tandem/secret/secret
{{- else if eq .Values.cluster.secret.mode "env" }}
- name: TANDEM_CLUSTER_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "tandem.secretName" . }}
      key: secret
{{- else }}
{{- fail (printf "cluster.secret.mode must be env or file, not %q" .Values.cluster.secret.mode) }}
{{- end }}
{{- end -}}

{{- define "tandem.secretVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if eq .Values.cluster.secret.mode "file" }}
- name: cluster-secret
  mountPath: /etc/tandem/secret
  readOnly: true
{{- end }}
{{- end -}}

{{- define "tandem.secretVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- if eq .Values.cluster.secret.mode "file" }}
- name: cluster-secret
  secret:
    secretName: {{ include "tandem.secretName" . }}
    defaultMode: 0440
    items:
      - key: secret
        path: secret
{{- end }}
{{- end -}}

{{/* Probes on /q/health/{live,ready} at the port named http; .probe holds the timings. */}}
{{- define "tandem.probe" -}}
httpGet:
  path: {{ .path }}
  port: http
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end -}}

{{- define "tandem.writeConcern" -}}
{{- if not (has . (list "leader" "one" "majority" "all")) -}}
{{- fail (printf "write concern must be one of leader, one, majority, all; got %q" .) -}}
{{- end -}}
{{- . -}}
{{- end -}}
