{{- define "runners-bot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "runners-bot.labels" -}}
app.kubernetes.io/name: runners-bot
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "runners-bot.selector" -}}
app.kubernetes.io/name: runners-bot
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "runners-bot.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "runners-bot.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "runners-bot.secret" -}}
{{- if .Values.secret.create -}}{{ include "runners-bot.fullname" . }}{{- else -}}{{ .Values.github.existingSecret }}{{- end -}}
{{- end -}}
