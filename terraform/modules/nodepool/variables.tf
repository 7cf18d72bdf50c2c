variable "cloudspace_name" {
  description = "The cloudspace the pool joins."
  type        = string
}

variable "server_class" {
  description = "Spot server class, e.g. gp.vs1.large-dfw (the spot_serverclasses data source lists them)."
  type        = string
}

variable "on_demand" {
  description = "On-demand servers (never preempted; min_nodes of them) instead of spot ones."
  type        = bool
  default     = false
}

variable "bid_price" {
  description = "Bid per server and hour, in USD (three decimals); null for an on-demand pool."
  type        = number
  default     = null

  validation {
    condition     = var.bid_price == null || try(var.bid_price > 0 && var.bid_price < 10, false)
    error_message = "bid_price is in USD per hour: more than 0 and less than 10."
  }
}

variable "min_nodes" {
  description = "Fewest servers (at least one keeps warm runners schedulable)."
  type        = number
  default     = 1
}

variable "max_nodes" {
  description = "Most servers."
  type        = number
  default     = 5

  validation {
    condition     = var.max_nodes >= 1 && var.max_nodes >= var.min_nodes
    error_message = "max_nodes must be at least 1 and at least min_nodes."
  }
}

variable "labels" {
  description = "Node labels (the naming module's node_labels)."
  type        = map(string)
}

variable "taints" {
  description = "Node taints (the naming module's runner_taint)."
  type = list(object({
    key    = string
    value  = optional(string)
    effect = string
  }))
}
