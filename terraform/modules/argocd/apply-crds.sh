#!/bin/sh
# Applies Argo CD's CRDs ($CRDS, a kustomization of Argo CD's manifests/crds at a tag)
# server-side, with the kubeconfig in $KUBECONFIG_CONTENT.
set -eu

config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '%s' "$KUBECONFIG_CONTENT" >"$config"

kubectl --kubeconfig "$config" apply --server-side --force-conflicts -k "$CRDS"
