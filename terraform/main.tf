# A runner cluster on Rackspace Spot: cloudspace, an untainted system node pool (a
# cloudspace has no workers of its own: Argo CD, ARC's controller and listeners,
# runners-bot and External Secrets run there), the tainted runner node pool, Argo CD with
# the root Applications. Names and node labels follow the seed's convention (modules/naming);
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

module "system_pool" {
  source          = "./modules/nodepool"
  cloudspace_name = module.cloudspace.name
  server_class    = var.system_server_class
  on_demand       = var.system_on_demand
  bid_price       = var.system_on_demand ? null : var.system_bid_price
  min_nodes       = var.system_min_nodes
  max_nodes       = var.system_max_nodes
  labels          = module.naming.system_node_labels
  taints          = []
}

provider "helm" {
  kubernetes {
    host     = module.cloudspace.kubeconfig.host
    token    = module.cloudspace.kubeconfig.token
    insecure = module.cloudspace.kubeconfig.insecure
  }
}

# A node pool resource returns before any of its servers exists (they take minutes to
# tens of minutes): wait for each pool's fewest nodes to be Ready, with a deadline.
module "system_nodes" {
  source          = "./modules/nodes_ready"
  kubeconfig_raw  = module.cloudspace.kubeconfig_raw
  pool_name       = module.system_pool.name
  selector        = join(",", [for k, v in module.naming.system_node_labels : "${k}=${v}"])
  nodes           = var.system_min_nodes
  timeout_minutes = var.node_ready_timeout_minutes
}

module "runner_nodes" {
  source          = "./modules/nodes_ready"
  kubeconfig_raw  = module.cloudspace.kubeconfig_raw
  pool_name       = module.runner_pool.name
  selector        = join(",", [for k, v in module.naming.node_labels : "${k}=${v}"])
  nodes           = var.min_nodes
  timeout_minutes = var.node_ready_timeout_minutes
}

module "argocd" {
  source             = "./modules/argocd"
  apps_dir           = "${path.root}/../argocd/apps-live"
  health_checks_file = "${path.root}/../argocd/argocd-cm-health.yaml"
  environment        = var.environment
  kubeconfig_raw     = module.cloudspace.kubeconfig_raw

  # Argo CD's pods (its redis-secret-init hook first) tolerate no taint: they need Ready
  # nodes of the untainted system pool, or helm_release waits until it times out. The
  # pools outlive Argo CD on destroy, and Argo CD the fleet it removes first.
  depends_on = [module.system_nodes, module.system_pool, module.runner_pool]
}
