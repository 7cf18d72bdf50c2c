variable "rackspace_spot_token" {
  description = "Rackspace Spot API token (Spot console, API Access → Terraform). From TF_VAR_rackspace_spot_token."
  type        = string
  sensitive   = true
}

variable "org" {
  description = "Organisation prefix of names."
  type        = string
  default     = "matchpoint"
}

variable "environment" {
  description = "prod, staging or dev."
  type        = string
}

variable "region" {
  description = "Region abbreviation in names (dfw, iad, ord, ...)."
  type        = string
}

variable "spot_region" {
  description = "The Spot region itself, e.g. us-central-dfw-1."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes version of the cloudspace (1.29 or later)."
  type        = string
  default     = "1.31.1"
}

variable "runner_pool" {
  description = "matchpoint.ai/runner-pool label and taint of the runner nodes."
  type        = string
  default     = "github-actions"
}

variable "server_class" {
  description = "Spot server class of runner nodes."
  type        = string
}

variable "bid_price" {
  description = "Bid per server and hour (USD)."
  type        = number
}

variable "min_nodes" {
  description = "Fewest runner nodes."
  type        = number
}

variable "max_nodes" {
  description = "Most runner nodes."
  type        = number
}

variable "preemption_webhook" {
  description = "Webhook for preemption notices (null: none)."
  type        = string
  default     = null
  sensitive   = true
}
