variable "kubeconfig_raw" {
  description = "A kubeconfig of the cluster (the cloudspace module's kubeconfig_raw)."
  type        = string
  sensitive   = true
}

variable "pool_name" {
  description = "The node pool waited for (named in messages; a new name waits again)."
  type        = string
}

variable "selector" {
  description = "Label selector of the pool's nodes, e.g. matchpoint.ai/purpose=system,matchpoint.ai/environment=prod."
  type        = string
}

variable "nodes" {
  description = "How many of them must be Ready (0: do not wait)."
  type        = number
}

variable "timeout_minutes" {
  description = "Give up after this long. Spot takes minutes to tens of minutes for a server, and 5-15 more to attach it."
  type        = number
  default     = 45

  validation {
    condition     = var.timeout_minutes > 0
    error_message = "timeout_minutes must be positive: a wait without a deadline could wait for ever."
  }
}

variable "interval_seconds" {
  description = "Seconds between looks."
  type        = number
  default     = 20
}
