# Argo CD installed with Helm, configured for the fleet (health checks for ARC's kinds,
# annotation tracking), and the root Applications of argocd/apps-live/ installed with
# the argocd-apps chart: from here on the cluster follows the repository.

terraform {
  required_version = ">= 1.6"
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
  root_apps = {
    for file in fileset(var.apps_dir, "*.yaml") :
    yamldecode(file("${var.apps_dir}/${file}")).metadata.name => yamldecode(file("${var.apps_dir}/${file}"))
  }
}

resource "helm_release" "argocd" {
  name             = "argocd"
  repository       = "https://argoproj.github.io/argo-helm"
  chart            = "argo-cd"
  version          = var.argocd_chart_version
  namespace        = var.namespace
  create_namespace = true

  values = [yamlencode({
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
}

resource "helm_release" "root_applications" {
  name       = "runners-root-applications"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argocd-apps"
  version    = var.argocd_apps_chart_version
  namespace  = var.namespace

  values = [yamlencode({
    applications = {
      for name, app in local.root_apps : name => merge(app.spec, {
        namespace  = app.metadata.namespace
        finalizers = try(app.metadata.finalizers, [])
      })
    }
  })]

  depends_on = [helm_release.argocd]
}
