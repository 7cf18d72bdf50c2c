# A runner cluster on Rackspace Spot: cloudspace, runner node pool, Argo CD with the
# root Applications. Names and node labels follow the seed's convention (modules/naming);
# the node pool's labels and taint are what values/repositories.yaml's globalOverrides
# select and tolerate (a test keeps them in step).

module "naming" {
  source      = "./modules/naming"
  org         = var.org
  purpose     = "github-runners"
  region      = var.region
  environment = var.environment
  runner_pool = var.runner_pool
}

provider "spot" {
  token = var.rackspace_spot_token
}

module "cloudspace" {
  source             = "./modules/cloudspace"
  name               = module.naming.name
  region             = var.spot_region
  kubernetes_version = var.kubernetes_version
  ha_control_plane   = var.environment == "prod"
  preemption_webhook = var.preemption_webhook
}

module "runner_pool" {
  source          = "./modules/nodepool"
  cloudspace_name = module.cloudspace.name
  server_class    = var.server_class
  bid_price       = var.bid_price
  min_nodes       = var.min_nodes
  max_nodes       = var.max_nodes
  labels          = module.naming.node_labels
  taints          = [module.naming.runner_taint]
}

provider "helm" {
  kubernetes {
    host     = module.cloudspace.kubeconfig.host
    token    = module.cloudspace.kubeconfig.token
    insecure = module.cloudspace.kubeconfig.insecure
  }
}

module "argocd" {
  source             = "./modules/argocd"
  apps_dir           = "${path.root}/../argocd/apps-live"
  health_checks_file = "${path.root}/../argocd/argocd-cm-health.yaml"

  depends_on = [module.runner_pool]
}
