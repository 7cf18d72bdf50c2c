# The root Applications of argocd/apps-live as the argocd-apps chart takes them, in two
# tiers: the controller, and what depends on it (the fleet). Installed as two releases,
# the fleet after the controller, so that `terraform destroy` removes the fleet first:
# a scale set's finalizer needs ARC's running controller and its GitHub credentials.
# The fleet runs the environment Terraform builds (fleet.environment picks its GitHub
# settings in values/repositories.yaml). Pure Terraform (no provider): tested offline.

terraform {
  required_version = ">= 1.7"
}

locals {
  files = { for file in fileset(var.apps_dir, "*.yaml") : file => yamldecode(file("${var.apps_dir}/${file}")) }

  # argocd-apps' shape: the Application's spec, with its namespace and finalizers beside it.
  apps = {
    for file, app in local.files : app.metadata.name => merge(app.spec, {
      namespace  = app.metadata.namespace
      finalizers = try(app.metadata.finalizers, [])
      }, [
      for fleet in [try(app.spec.source.helm.valuesObject.fleet, null)] : {
        source = merge(app.spec.source, {
          helm = merge(app.spec.source.helm, {
            valuesObject = merge(app.spec.source.helm.valuesObject, {
              fleet = merge(fleet, { environment = var.environment })
            })
          })
        })
      } if fleet != null
    ]...)
  }
}
