# Waits until a node pool has Ready nodes. Spot's node pool resources return when the
# pool exists, not when its servers do: a bid is won and a server built and joined in
# minutes to tens of minutes (5-15 more to attach). What runs next (Argo CD's install
# hooks, the fleet's pods) needs the nodes, so it waits here, with a deadline, instead of
# inside a Helm release's timeout. Built-in terraform_data only: no provider to download.

terraform {
  required_version = ">= 1.7"
}

resource "terraform_data" "ready" {
  # Wait again when the pool is replaced or asks for other nodes.
  triggers_replace = [var.pool_name, var.selector, var.nodes]

  provisioner "local-exec" {
    command = "sh ${path.module}/wait-for-nodes.sh"
    environment = {
      KUBECONFIG_CONTENT = var.kubeconfig_raw
      POOL               = var.pool_name
      SELECTOR           = var.selector
      NODES              = tostring(var.nodes)
      TIMEOUT_SECONDS    = tostring(var.timeout_minutes * 60)
      INTERVAL_SECONDS   = tostring(var.interval_seconds)
    }
  }
}
