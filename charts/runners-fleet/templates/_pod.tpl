{{/*
The runner pod of one scale set, written as the YAML it becomes. Each helper takes
(dict "root" $ "entry" $entry "e" <fleet.effective>) and is called from applications.yaml.
ARC 0.12.1's chart passes this spec through in its default container mode; Docker is
added here, the way ARC's own dind mode adds it, so that our resource profiles apply to
the daemon too.
*/}}

{{/* The pod: placement, the work volume's group, init containers (dind), runner, volumes. */}}
{{- define "fleet.podSpec" -}}
{{- $overrides := .root.Values.globalOverrides | default dict -}}
securityContext:
  # The runner runs as uid 1001 in group 123; a fresh volume is root-owned, so give it to 123.
  fsGroup: 123
{{- with $overrides.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $overrides.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $overrides.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .e.dind }}
initContainers:
  {{- include "fleet.dindExternals" . | nindent 2 }}
  {{- include "fleet.dindSidecar" . | nindent 2 }}
{{- end }}
containers:
  {{- include "fleet.runnerContainer" . | nindent 2 }}
volumes:
  {{- include "fleet.volumes" . | nindent 2 }}
{{- end -}}

{{/* The runner: the entry's environment, its profile's resources, the work (and cache) volume. */}}
{{- define "fleet.runnerContainer" -}}
- name: runner
  image: {{ .root.Values.fleet.runnerImage }}
  command: ["/home/runner/run.sh"]
  {{- if or .entry.environment .e.dind }}
  env:
    {{- range $key, $value := (.entry.environment | default dict) }}
    - name: {{ $key | toJson }}
      value: {{ toString $value | toJson }}
    {{- end }}
    {{- if .e.dind }}
    - name: DOCKER_HOST
      value: unix:///var/run/docker.sock
    # As ARC's dind mode: the runner waits for the daemon before it takes a job.
    - name: RUNNER_WAIT_FOR_DOCKER_IN_SECONDS
      value: "120"
    {{- end }}
  {{- end }}
  resources:
    requests: {cpu: {{ .e.cpu.request | toJson }}, memory: {{ .e.memory.request | toJson }}}
    limits: {cpu: {{ .e.cpu.limit | toJson }}, memory: {{ .e.memory.limit | toJson }}}
  volumeMounts:
    - name: work
      mountPath: /home/runner/_work
    {{- if .e.dind }}
    - name: dind-sock
      mountPath: /var/run
    {{- end }}
    {{- if .e.cache }}
    - name: cache
      mountPath: /home/runner/cache
    {{- end }}
{{- end -}}

{{/* Copies the runner's externals where the daemon can see them (ARC's init-dind-externals). */}}
{{- define "fleet.dindExternals" -}}
- name: init-dind-externals
  image: {{ .root.Values.fleet.runnerImage }}
  command: ["cp"]
  args: ["-r", "/home/runner/externals/.", "/home/runner/tmpDir/"]
  volumeMounts:
    - name: dind-externals
      mountPath: /home/runner/tmpDir
{{- end -}}

{{/* The Docker daemon as a native sidecar (Kubernetes ≥ 1.29), sized by the category's dind profile. */}}
{{- define "fleet.dindSidecar" -}}
- name: dind
  image: {{ .root.Values.fleet.dindImage }}
  restartPolicy: Always
  args:
    - dockerd
    - --host=unix:///var/run/docker.sock
    - --group=$(DOCKER_GROUP_GID)
  env:
    - name: DOCKER_GROUP_GID
      value: "123"
  securityContext:
    privileged: true
  startupProbe:
    exec:
      command: [docker, info]
    initialDelaySeconds: 0
    failureThreshold: 24
    periodSeconds: 5
  resources:
    requests: {cpu: {{ .e.dindCpu.request | toJson }}, memory: {{ .e.dindMemory.request | toJson }}}
    limits: {cpu: {{ .e.dindCpu.limit | toJson }}, memory: {{ .e.dindMemory.limit | toJson }}}
  volumeMounts:
    - name: work
      mountPath: /home/runner/_work
    - name: dind-sock
      mountPath: /var/run
    - name: dind-externals
      mountPath: /home/runner/externals
{{- end -}}

{{/* A fresh work volume per runner, sized by the profile; the shared cache when the entry has one. */}}
{{- define "fleet.volumes" -}}
- name: work
  ephemeral:
    volumeClaimTemplate:
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: {{ .e.storage | toJson }}
{{- if .e.dind }}
- name: dind-sock
  emptyDir: {}
- name: dind-externals
  emptyDir: {}
{{- end }}
{{- if .e.cache }}
- name: cache
  persistentVolumeClaim:
    claimName: {{ printf "%s-cache" .e.scaleSet }}
{{- end }}
{{- end -}}
