# A Rackspace Spot cloudspace: the managed Kubernetes control plane.

terraform {
  required_version = ">= 1.7"
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

  lifecycle {
    # Provider v0.1.4's update sends neither: a plan would promise a change it never makes.
    # The check below says when the cloudspace differs from these settings instead.
    ignore_changes = [kubernetes_version, cni]
  }
}

# An existing cloudspace keeps the Kubernetes version and CNI it was created with (the
# provider cannot change them): a warning, on every plan, when the settings ask for others.
check "cloudspace_runs_the_asked_version_and_cni" {
  data "spot_cloudspace" "live" {
    name = spot_cloudspace.this.cloudspace_name
  }

  assert {
    condition = (
      trimprefix(coalesce(data.spot_cloudspace.live.kubernetes_version, var.kubernetes_version), "v") == trimprefix(var.kubernetes_version, "v")
      && (var.cni == null || coalesce(data.spot_cloudspace.live.cni, var.cni) == var.cni)
    )
    error_message = "The cloudspace runs Kubernetes ${coalesce(data.spot_cloudspace.live.kubernetes_version, "?")} with CNI ${coalesce(data.spot_cloudspace.live.cni, "?")}; provider v0.1.4 cannot change either on an existing cloudspace. Upgrade it in the Spot console, or replace the cloudspace (DEPLOYMENT.md, Environments)."
  }
}

data "spot_kubeconfig" "this" {
  cloudspace_name = spot_cloudspace.this.cloudspace_name
}
