variable "namespace" {
  description = "Namespace of Argo CD."
  type        = string
  default     = "argocd"
}

variable "argocd_chart_version" {
  description = "Version of the argo-cd Helm chart (10.1.1: the newest read, for Argo CD 3.4)."
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
