# Argo CD installed with Helm, configured for the fleet (health checks for ARC's kinds,
# annotation tracking), with the Application CRDs of the Argo CD it runs, and the root
# Applications of argocd/apps-live/ installed with the argocd-apps chart, the fleet after
# the controller: from here on the cluster follows the repository.

terraform {
  required_version = ">= 1.7"
  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
  }
}

locals {
  # argocd/argocd-cm-health.yaml is the one source of the fleet's health checks.
  health_checks = yamldecode(file(var.health_checks_file)).data
}

module "root_apps" {
  source      = "../root_apps"
  apps_dir    = var.apps_dir
  environment = var.environment
}

# The argo-cd chart installs the CRDs of its own appVersion (10.1.1: v3.4.4), and the API
# server prunes the fields a newer Argo CD writes that they lack. So the chart installs
# none, and these are Argo CD's own, of the version that runs (server-side: they are too
# large for kubectl's last-applied annotation). Re-applied when the version changes.
resource "terraform_data" "crds" {
  triggers_replace = [var.argocd_version]

  provisioner "local-exec" {
    command = "sh ${path.module}/apply-crds.sh"
    environment = {
      KUBECONFIG_CONTENT = var.kubeconfig_raw
      CRDS               = "https://github.com/argoproj/argo-cd//manifests/crds?ref=${var.argocd_version}"
    }
  }
}

resource "helm_release" "argocd" {
  name             = "argocd"
  repository       = "https://argoproj.github.io/argo-helm"
  chart            = "argo-cd"
  version          = var.argocd_chart_version
  namespace        = var.namespace
  create_namespace = true
  # Helm's default of 300 s is shorter than a Spot server takes to replace a preempted one.
  timeout = var.install_timeout_seconds

  values = [yamlencode({
    crds = { install = false }
    # The Argo CD the tests validate the fleet's Applications against (its CRD in
    # tests/support/upstream.py), whatever the chart's own appVersion.
    global = { image = { tag = var.argocd_version } }
    configs = {
      cm = merge(local.health_checks, {
        # ARC copies labels onto objects it creates; tracking by annotation keeps Argo CD
        # from taking them for its own (DEPLOYMENT.md).
        "application.resourceTrackingMethod" = "annotation"
      })
    }
  })]

  depends_on = [terraform_data.crds]
}

# The controller's root Application. Destroyed last of the two: uninstalling waits (wait,
# timeout) until Argo CD has deleted what it deployed, through its finalizer.
resource "helm_release" "controller_root" {
  name       = "runners-root-controller"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argocd-apps"
  version    = var.argocd_apps_chart_version
  namespace  = var.namespace
  timeout    = var.install_timeout_seconds

  values = [yamlencode({ applications = module.root_apps.controller })]

  depends_on = [helm_release.argocd]
}

# The fleet's root Application(s): installed after the controller, so destroyed before
# it. Uninstalling waits until every scale set is gone (their finalizers need the running
# controller), as long as fleet_destroy_timeout_seconds allows.
resource "helm_release" "fleet_root" {
  name       = "runners-root-fleet"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argocd-apps"
  version    = var.argocd_apps_chart_version
  namespace  = var.namespace
  wait       = true
  timeout    = var.fleet_destroy_timeout_seconds

  values = [yamlencode({ applications = module.root_apps.dependents })]

  depends_on = [helm_release.controller_root]
}

# Before the two tiers, one release held every root Application. Terraform forgets it
# without uninstalling it (which would delete the Applications and, through their
# finalizers, everything they deployed); DEPLOYMENT.md, "Upgrading", hands the
# Applications to the two releases.
removed {
  from = helm_release.root_applications

  lifecycle {
    destroy = false
  }
}
