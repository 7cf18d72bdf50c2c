# The seed's naming convention, {org}-{purpose}-{region}-{env}, and the node labels the
# runner pods select. Pure Terraform (no provider): `terraform test` runs it offline.

terraform {
  required_version = ">= 1.7"
}

locals {
  name = join("-", [var.org, var.purpose, var.region, var.environment])

  node_labels = {
    "matchpoint.ai/purpose"     = var.purpose
    "matchpoint.ai/environment" = var.environment
    "matchpoint.ai/runner-pool" = var.runner_pool
  }

  # The untainted system pool: Argo CD, ARC's controller and listeners, runners-bot,
  # External Secrets (everything that does not tolerate the runner taint).
  system_node_labels = {
    "matchpoint.ai/purpose"     = "system"
    "matchpoint.ai/environment" = var.environment
  }

  # Keeps other workloads off the runner nodes; runner pods tolerate it.
  runner_taint = {
    key    = "matchpoint.ai/runner-pool"
    value  = var.runner_pool
    effect = "NoSchedule"
  }
}
