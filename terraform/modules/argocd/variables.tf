variable "namespace" {
  description = "Namespace of Argo CD."
  type        = string
  default     = "argocd"
}

variable "argocd_chart_version" {
  description = "Version of the argo-cd Helm chart (Argo CD 3.x)."
  type        = string
  default     = "9.1.4"
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
