# A node pool of the cloudspace: spot servers bid for at a price and autoscaled between
# a minimum and a maximum, or (on_demand) a fixed number of on-demand servers; labelled
# and tainted as the caller says. The runner pool is tainted so that only runner pods
# (globalOverrides in values/repositories.yaml) land there; the system pool is not.

terraform {
  required_version = ">= 1.7"
  required_providers {
    spot = {
      source  = "rackerlabs/spot"
      version = "~> 0.1.4"
    }
  }
}

resource "spot_spotnodepool" "runners" {
  count           = var.on_demand ? 0 : 1
  cloudspace_name = var.cloudspace_name
  server_class    = var.server_class
  bid_price       = var.bid_price

  autoscaling = {
    min_nodes = var.min_nodes
    max_nodes = var.max_nodes
  }

  labels = var.labels
  taints = var.taints

  lifecycle {
    precondition {
      condition     = var.bid_price != null
      error_message = "A spot pool needs bid_price (or set on_demand = true)."
    }
  }
}

resource "spot_ondemandnodepool" "pool" {
  count                = var.on_demand ? 1 : 0
  cloudspace_name      = var.cloudspace_name
  server_class         = var.server_class
  desired_server_count = var.min_nodes

  labels = var.labels
  taints = var.taints
}

# The pool was a single resource before on-demand pools: keep its state, do not replace it.
moved {
  from = spot_spotnodepool.runners
  to   = spot_spotnodepool.runners[0]
}
