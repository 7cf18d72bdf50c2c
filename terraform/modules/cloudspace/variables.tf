variable "name" {
  description = "Cloudspace name, from the naming module ({org}-{purpose}-{region}-{env})."
  type        = string
}

variable "region" {
  description = "Spot region, e.g. us-central-dfw-1."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes version: 1.30 or later (runners-bot's ValidatingAdmissionPolicy is served from 1.30; Docker-in-Docker's native sidecar needs 1.29)."
  type        = string
  default     = "1.31.1"

  validation {
    condition     = contains(["1.30.10", "1.31.1"], var.kubernetes_version)
    error_message = "kubernetes_version must be one Spot offers from 1.30 on (1.30.10, 1.31.1): runners-bot's admission policy needs 1.30."
  }
}

variable "ha_control_plane" {
  description = "Replicated control plane (recommended for prod)."
  type        = bool
  default     = false
}

variable "cni" {
  description = "Container network: calico or cilium."
  type        = string
  default     = "calico"

  validation {
    condition     = contains(["calico", "cilium"], var.cni)
    error_message = "cni must be calico or cilium."
  }
}

variable "preemption_webhook" {
  description = "Webhook notified when Spot preempts a server (e.g. a Slack incoming webhook); null for none."
  type        = string
  default     = null
  sensitive   = true
}
