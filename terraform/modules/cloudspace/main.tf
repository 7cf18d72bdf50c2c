# A Rackspace Spot cloudspace: the managed Kubernetes control plane.

terraform {
  required_version = ">= 1.6"
  required_providers {
    spot = {
      source  = "rackerlabs/spot"
      version = "~> 0.1.4"
    }
  }
}

resource "spot_cloudspace" "this" {
  cloudspace_name    = var.name
  region             = var.region
  kubernetes_version = var.kubernetes_version
  hacontrol_plane    = var.ha_control_plane
  cni                = var.cni
  preemption_webhook = var.preemption_webhook
  wait_until_ready   = true
}

data "spot_kubeconfig" "this" {
  cloudspace_name = spot_cloudspace.this.cloudspace_name
}
