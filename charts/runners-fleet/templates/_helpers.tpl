{{/*
The rules here mirror bot/config.py (Config.effective) and bot/names.py; the test
tests/test_charts.py renders this chart over generated configurations and checks that
both agree, so that what a runners-bot pull request says is what the fleet runs.
*/}}

{{/* RFC 1123 spelling of a repository name: lower case, runs of other characters become "-". */}}
{{- define "fleet.normalise" -}}
{{- regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trimAll "-" -}}
{{- end -}}

{{/* The effective settings of one entry, as YAML: names, scaling, profile, resources, dind. */}}
{{- define "fleet.effective" -}}
{{- $root := .root -}}
{{- $entry := .entry -}}
{{- $name := include "fleet.normalise" $entry.name -}}
{{- $category := get ($root.Values.categories | default dict) ($entry.category | default "") | default dict -}}
{{- $defaults := $root.Values.scaling.defaults | default dict -}}
{{- $profileName := $entry.profile | default $category.profile | default $defaults.profile -}}
{{- $profile := get $root.Values.scaling.profiles $profileName | default dict -}}
{{- $scaling := $entry.scaling | default dict -}}
{{- $storage := $entry.storage | default dict -}}
{{- $dindProfile := get (($root.Values.dind | default dict).profiles | default dict) ($category.dind | default "standard") | default dict -}}
scaleSet: {{ $entry.runnerScaleSetName | default (printf "%s-runners" $name) }}
namespace: {{ printf "arc-%s-runners" $name }}
minRunners: {{ hasKey $scaling "minRunners" | ternary $scaling.minRunners ($defaults.minRunners | default 0) }}
maxRunners: {{ hasKey $scaling "maxRunners" | ternary $scaling.maxRunners ($defaults.maxRunners | default 1) }}
profile: {{ $profileName | quote }}
cpu: {{ $profile.cpu | default dict | toJson }}
memory: {{ $profile.memory | default dict | toJson }}
storage: {{ $storage.work | default $profile.storage | quote }}
cache: {{ $storage.cache | default "" | quote }}
dind: {{ $entry.dind | default false }}
dindCpu: {{ $dindProfile.cpu | default dict | toJson }}
dindMemory: {{ $dindProfile.memory | default dict | toJson }}
{{- end -}}
