{{/* Full name: the release name, unless it already contains the chart name. */}}
{{- define "vault-courier.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vault-courier.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "vault-courier.labels" -}}
{{ include "vault-courier.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vault-courier
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vault-courier.serviceAccountName" -}}
{{- default (include "vault-courier.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The Secret that holds tls.crt, tls.key and ca.crt, whichever source made it. */}}
{{- define "vault-courier.tlsSecretName" -}}
{{- printf "%s-tls" (include "vault-courier.fullname" .) -}}
{{- end -}}

{{- define "vault-courier.serviceHost" -}}
{{- printf "%s.%s.svc" (include "vault-courier.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "vault-courier.image" -}}
{{- printf "%s:%s" .image.repository (default .appVersion .image.tag) -}}
{{- end -}}
