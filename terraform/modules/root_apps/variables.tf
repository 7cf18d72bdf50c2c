variable "apps_dir" {
  description = "Folder of the root Applications (argocd/apps-live)."
  type        = string
}

variable "controller_application" {
  description = "The root Application of ARC's controller: installed first, removed last."
  type        = string
  default     = "arc-controller"
}

variable "environment" {
  description = "prod, staging or dev: the fleet's fleet.environment."
  type        = string
}
