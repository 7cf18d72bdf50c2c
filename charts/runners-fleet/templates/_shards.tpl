{{/*
The shard Applications of a sharded fleet: each renders this chart again, with the same
value files and fleet settings and its own fleet.shards.index. They carry the
resources-finalizer, so deleting the fleet's root deletes every scale set through them.
*/}}
{{- define "fleet.shardApplications" -}}
{{- $fleet := .Values.fleet -}}
{{- $shards := $fleet.shards -}}
{{- range $i := until (int $shards.count) }}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ printf "%s-shard-%02d" $.Release.Name $i }}
  namespace: {{ $fleet.argocdNamespace }}
  labels:
    app.kubernetes.io/part-of: runners-fleet
    app.kubernetes.io/component: shard
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: {{ $fleet.project }}
  source:
    repoURL: {{ $fleet.repoURL }}
    targetRevision: {{ $fleet.targetRevision }}
    path: {{ $shards.chartPath }}
    helm:
      releaseName: {{ $.Release.Name }}
      valueFiles:
        {{- toYaml $shards.valueFiles | nindent 8 }}
      valuesObject:
        fleet: {{ merge (dict "shards" (merge (dict "index" $i) (omit $shards "index"))) (omit $fleet "shards") | toJson }}
  destination:
    server: {{ $fleet.destinationServer }}
    namespace: {{ $fleet.argocdNamespace }}
  syncPolicy:
    automated:
      # Off while shards are added: an Application moving between shards is pruned by
      # the one it leaves only if that one syncs first (argocd/README.md, "Shards").
      prune: {{ $shards.prune }}
      selfHeal: true
    retry:
      {{- toYaml $fleet.syncRetry | nindent 6 }}
{{- end }}
{{- end -}}
