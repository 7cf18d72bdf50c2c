#!/bin/sh
# Waits until $NODES nodes matching $SELECTOR are Ready (kubectl, with the kubeconfig in
# $KUBECONFIG_CONTENT), looking every $INTERVAL_SECONDS; fails after $TIMEOUT_SECONDS
# saying how many are. An unreachable API server counts as none Ready, until the deadline.
set -u

config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '%s' "$KUBECONFIG_CONTENT" >"$config"

deadline=$(($(date +%s) + TIMEOUT_SECONDS))
while :; do
  ready=$(kubectl --kubeconfig "$config" --request-timeout=20s get nodes -l "$SELECTOR" \
    -o jsonpath='{range .items[*]}{range .status.conditions[?(@.type=="Ready")]}{.status}{"\n"}{end}{end}' \
    2>/dev/null | grep -c '^True$')
  if [ "$ready" -ge "$NODES" ]; then
    echo "$POOL: $ready node(s) Ready ($SELECTOR)"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$POOL: $ready of $NODES node(s) Ready ($SELECTOR) after ${TIMEOUT_SECONDS}s; see the pool's bid status in the Spot console, then run terraform apply again" >&2
    exit 1
  fi
  sleep "$INTERVAL_SECONDS"
done
