{{- define "weft.name" -}}{{ .Release.Name }}-weft{{- end -}}
{{- define "weft.labels" -}}
app.kubernetes.io/name: weft
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
