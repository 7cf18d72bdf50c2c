# The runner node pool: spot servers bid for at a price, autoscaled between a minimum and
# a maximum, labelled and tainted so that only runner pods (globalOverrides in
# values/repositories.yaml) land there.

terraform {
  required_version = ">= 1.6"
  required_providers {
    spot = {
      source  = "rackerlabs/spot"
      version = "~> 0.1.4"
    }
  }
}

resource "spot_spotnodepool" "runners" {
  cloudspace_name = var.cloudspace_name
  server_class    = var.server_class
  bid_price       = var.bid_price

  autoscaling = {
    min_nodes = var.min_nodes
    max_nodes = var.max_nodes
  }

  labels = var.labels
  taints = var.taints
}
