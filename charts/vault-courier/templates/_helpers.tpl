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
{{- if and (eq .Values.certificates.source "secret") .Values.certificates.secretName -}}
{{- .Values.certificates.secretName -}}
{{- else -}}
{{- printf "%s-tls" (include "vault-courier.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
certificates.* beyond what values.schema.json can say: the secret mode needs the CA as
base64 PEM, and the values of that mode are refused in the others, where they would be
silently ignored.
*/}}
{{- define "vault-courier.validateCertificates" -}}
{{- $c := .Values.certificates -}}
{{- $issue := printf "npm run certs -- --service %s --namespace %s" (include "vault-courier.fullname" .) .Release.Namespace -}}
{{- if eq $c.source "secret" -}}
{{- if not $c.caBundle -}}
{{- fail (printf "certificates.caBundle is required with certificates.source=secret: the base64 PEM of the CA that signed the Secret's tls.crt, for the MutatingWebhookConfiguration. `%s` writes it to certs/out/ca-bundle.b64 (pass -f certs/out/values-secret.yaml, or --set certificates.caBundle=$(cat certs/out/ca-bundle.b64))" $issue) -}}
{{- end -}}
{{- if not (contains "-----BEGIN CERTIFICATE-----" (b64dec $c.caBundle)) -}}
{{- fail (printf "certificates.caBundle is not the base64 of a PEM certificate (PEM text itself must be base64-encoded): give the content of certs/out/ca-bundle.b64, written by `%s`" $issue) -}}
{{- end -}}
{{- else -}}
{{- range $key := list "secretName" "caBundle" -}}
{{- if index $c $key -}}
{{- fail (printf "certificates.%s is used only with certificates.source=secret (source is %s); drop it, or set certificates.source=secret" $key $c.source) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vault-courier.serviceHost" -}}
{{- printf "%s.%s.svc" (include "vault-courier.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* <repository>:<tag>, or <repository>@sha256:… for a digest; the tag defaults to the chart's appVersion. */}}
{{- define "vault-courier.image" -}}
{{- $tag := default .appVersion .image.tag -}}
{{- printf "%s%s%s" .image.repository (ternary "@" ":" (hasPrefix "sha256:" $tag)) $tag -}}
{{- end -}}
