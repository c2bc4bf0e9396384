{{- /* The chart's name, or nameOverride. */ -}}
{{- define "oc-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* The name of every namespaced object of a release: fullnameOverride, or the
release name when it already holds the chart's name, or "<release>-<name>". Two
releases in one namespace therefore never share an object. */ -}}
{{- define "oc-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "oc-operator.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* Cluster-scoped objects (ClusterRoles, their bindings) also carry the release
namespace: two releases of one name in two namespaces must not share them. */ -}}
{{- define "oc-operator.clusterName" -}}
{{- printf "%s-%s" (include "oc-operator.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "oc-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "oc-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- /* The leader Lease: one per release, so two releases elect apart. */ -}}
{{- define "oc-operator.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (printf "%s-leader" (include "oc-operator.fullname" .) | trunc 63 | trimSuffix "-") -}}
{{- end -}}

{{- define "oc-operator.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) -}}true{{- end -}}
{{- end -}}

{{- define "oc-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "oc-operator.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "oc-operator.selector" -}}
app.kubernetes.io/name: {{ include "oc-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "oc-operator.simulatorSelector" -}}
app.kubernetes.io/name: {{ include "oc-operator.name" . }}-simulator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* repository:tag, or repository@digest when a digest is given. */ -}}
{{- define "oc-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "oc-operator.simulatorImage" -}}
{{ .Values.sandbox.image.repository }}:{{ .Values.sandbox.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- /* The tenant namespaces whose Secrets (carrier passwords) the operator may get:
rbac.secretNamespaces, and the namespaces whose labels match
rbac.secretNamespaceLabels (looked up when Helm installs or upgrades; a namespace
labelled later needs a helm upgrade). One name a line, sorted, no duplicates, the
release namespace left out (its Role already grants it). */ -}}
{{- define "oc-operator.secretNamespaces" -}}
{{- $names := list -}}
{{- range .Values.rbac.secretNamespaces -}}
{{- $names = append $names . -}}
{{- end -}}
{{- with .Values.rbac.secretNamespaceLabels -}}
{{- $wanted := . -}}
{{- $found := lookup "v1" "Namespace" "" "" -}}
{{- range ($found.items | default list) -}}
{{- $labels := .metadata.labels | default dict -}}
{{- $match := true -}}
{{- range $key, $value := $wanted -}}
{{- if ne (get $labels $key) (toString $value) -}}{{- $match = false -}}{{- end -}}
{{- end -}}
{{- if $match -}}{{- $names = append $names .metadata.name -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- range (without (sortAlpha (uniq $names)) .Release.Namespace) }}
{{ . }}
{{- end -}}
{{- end -}}

{{/* The hosts credentials may be sent to: operator.allowedEndpointHosts, the hosts of
the chart's own OCPlatform, and the sandbox's simulator; comma-separated. */}}
{{- define "oc-operator.endpointHosts" -}}
{{- $hosts := .Values.operator.allowedEndpointHosts | default list -}}
{{- if .Values.platform.enabled -}}
{{- range list .Values.platform.baseUrl .Values.platform.identityBaseUrl -}}
{{- with (urlParse .).host -}}
{{- $hosts = append $hosts (splitList ":" . | first) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.sandbox.enabled -}}
{{- $hosts = append $hosts (printf "%s-simulator.%s.svc" (include "oc-operator.fullname" .) .Release.Namespace) -}}
{{- end -}}
{{- $hosts | uniq | join "," -}}
{{- end -}}
