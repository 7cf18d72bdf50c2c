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
  description = "Kubernetes version of the cloudspace (1.30 or later)."
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

variable "system_server_class" {
  description = "Server class of the system pool (Argo CD, ARC's controller and listeners, runners-bot)."
  type        = string
}

variable "system_on_demand" {
  description = "On-demand system servers (never preempted) instead of spot ones."
  type        = bool
  default     = false
}

variable "system_bid_price" {
  description = "Bid per system server and hour (USD), for a spot system pool."
  type        = number
  default     = null
}

variable "system_min_nodes" {
  description = "Fewest system nodes (on-demand: the number of servers). Two keep runners-bot's replicas apart."
  type        = number
  default     = 2
}

variable "system_max_nodes" {
  description = "Most system nodes (spot only)."
  type        = number
  default     = 3
}

variable "node_ready_timeout_minutes" {
  description = "How long `terraform apply` waits for each pool's fewest nodes to be Ready. Spot takes minutes to tens of minutes for a server and 5-15 more to attach it."
  type        = number
  default     = 45
}
