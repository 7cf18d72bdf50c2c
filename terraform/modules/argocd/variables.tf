variable "namespace" {
  description = "Namespace of Argo CD."
  type        = string
  default     = "argocd"
}

variable "argocd_chart_version" {
  description = "Version of the argo-cd Helm chart (10.1.1: the newest, for Argo CD 3.4; it runs argocd_version with that version's CRDs)."
  type        = string
  default     = "10.1.1"
}

variable "argocd_version" {
  description = "Argo CD itself (global.image.tag): the version the tests validate the fleet's Applications against."
  type        = string
  default     = "v3.5.1"
}

variable "argocd_apps_chart_version" {
  description = "Version of the argocd-apps Helm chart."
  type        = string
  default     = "2.0.2"
}

variable "apps_dir" {
  description = "Folder of the root Applications (argocd/apps-live)."
  type        = string
}

variable "health_checks_file" {
  description = "argocd/argocd-cm-health.yaml: health checks for the fleet's kinds."
  type        = string
}

variable "environment" {
  description = "prod, staging or dev: the fleet's fleet.environment."
  type        = string
}

variable "kubeconfig_raw" {
  description = "A kubeconfig of the cluster, for applying Argo CD's CRDs."
  type        = string
  sensitive   = true
}

variable "install_timeout_seconds" {
  description = "How long Helm waits for Argo CD and the controller to be ready (Helm's 300 s default is shorter than Spot takes to replace a server)."
  type        = number
  default     = 2700
}

variable "fleet_destroy_timeout_seconds" {
  description = "How long `terraform destroy` waits for the fleet's scale sets to be deleted before the controller goes."
  type        = number
  default     = 3600
}
