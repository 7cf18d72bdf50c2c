{{/*
The rules here mirror bot/fleet/config.py (Config.effective) and bot/fleet/names.py; the test
tests/deploy/test_charts.py renders this chart over generated configurations, through ARC's
real chart, and checks that both agree, so that what a runners-bot pull request says is
what the fleet runs.
*/}}

{{/* RFC 1123 spelling of a repository name: lower case, runs of other characters become "-". */}}
{{- define "fleet.normalise" -}}
{{- regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trimAll "-" -}}
{{- end -}}

{{/* The scale set (and Application) name of an entry: runnerScaleSetName, else the
normalised repository name, with "-runners" unless it is an organisation pool. */}}
{{- define "fleet.scaleSetName" -}}
{{- $name := include "fleet.normalise" .name -}}
{{- .runnerScaleSetName | default (eq (.scope | default "repository") "organization" | ternary $name (printf "%s-runners" $name)) -}}
{{- end -}}

{{/* The shard of an entry: a stable hash of its scale set name modulo the shard count
(tests/deploy/test_shards.py computes the same in Python). Adding entries moves none. */}}
{{- define "fleet.shardOf" -}}
{{- mod (atoi (adler32sum (sha256sum (include "fleet.scaleSetName" .entry)))) .count -}}
{{- end -}}

{{/* Refuses, with the entry named, what ARC 0.12.1 or Kubernetes would refuse later. */}}
{{- define "fleet.checkEntry" -}}
{{- $e := include "fleet.effective" . | fromYaml -}}
{{- $where := printf "repositories entry %s/%s" .entry.org .entry.name -}}
{{- if gt (len $e.scaleSet) 45 }}
{{- fail (printf "%s: scale set name %q has %d characters; ARC allows at most 45 (runners-bot validate reports this)" $where $e.scaleSet (len $e.scaleSet)) }}
{{- end }}
{{- if gt (len $e.namespace) 63 }}
{{- fail (printf "%s: namespace %q has %d characters; Kubernetes allows at most 63" $where $e.namespace (len $e.namespace)) }}
{{- end }}
{{- if and $e.cache (not $e.cacheClass) }}
{{- fail (printf "%s: storage.cache needs a ReadWriteMany storage class: set caches.storageClassName in values/base-config.yaml (SCALING.md)" $where) }}
{{- end }}
{{- end -}}

{{/* The effective settings of one entry, as YAML: names, scaling, profile, resources, dind, cache. */}}
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
{{- /* Where ARC registers: the environment's GitHub (github.com or an Enterprise Server), the
entry's repository, or its whole organisation for a pool (scope: organization). */ -}}
{{- $env := get ($root.Values.environments | default dict) (($root.Values.fleet | default dict).environment | default "prod") | default dict -}}
{{- $github := $env.githubUrl | default "https://github.com" | trimSuffix "/" -}}
{{- $pool := eq ($entry.scope | default "repository") "organization" -}}
{{- $secret := get ($env.githubConfigSecrets | default dict) ($entry.org | toString) | default $env.githubConfigSecret | default "arc-github-app" -}}
scaleSet: {{ include "fleet.scaleSetName" $entry }}
githubConfigUrl: {{ $pool | ternary (printf "%s/%s" $github $entry.org) (printf "%s/%s/%s" $github $entry.org $entry.name) | quote }}
githubConfigSecret: {{ $secret | quote }}
githubConfigSecretOfOrg: {{ hasKey ($env.githubConfigSecrets | default dict) ($entry.org | toString) }}
runnerGroup: {{ $entry.runnerGroup | default "" | quote }}
githubServerTLS: {{ $env.githubServerTLS | default dict | toJson }}
pool: {{ $pool }}
namespace: {{ printf "arc-%s-runners" $name }}
minRunners: {{ hasKey $scaling "minRunners" | ternary $scaling.minRunners ($defaults.minRunners | default 0) }}
maxRunners: {{ hasKey $scaling "maxRunners" | ternary $scaling.maxRunners ($defaults.maxRunners | default 1) }}
profile: {{ $profileName | quote }}
cpu: {{ $profile.cpu | default dict | toJson }}
memory: {{ $profile.memory | default dict | toJson }}
storage: {{ $storage.work | default $profile.storage | quote }}
cache: {{ $storage.cache | default "" | quote }}
cacheClass: {{ (($root.Values.caches | default dict).storageClassName | default "") | quote }}
{{- /* A category with a dind profile gives a Docker daemon unless the entry says dind: false. */}}
dind: {{ hasKey $entry "dind" | ternary $entry.dind (not (empty $category.dind)) }}
dindCpu: {{ $dindProfile.cpu | default dict | toJson }}
dindMemory: {{ $dindProfile.memory | default dict | toJson }}
{{- end -}}
