# With the longest purpose, region and environment, a 20-character org keeps the name
# within 44 characters: a DNS label (63) with room for the provider's suffixes.
variable "org" {
  description = "Organisation prefix, lower case (the seed: matchpoint)."
  type        = string
  default     = "matchpoint"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,19}$", var.org))
    error_message = "org must be 2-20 lower-case letters and digits, starting with a letter (e.g. matchpoint)."
  }
}

variable "purpose" {
  description = "What the cloudspace runs."
  type        = string

  validation {
    condition     = contains(["github-runners", "app-hosting", "services"], var.purpose)
    error_message = "purpose must be one of github-runners, app-hosting, services."
  }
}

variable "region" {
  description = "Region abbreviation: dfw (Dallas), iad (Ashburn), ord (Chicago), lon (London), fra (Frankfurt), syd (Sydney), hkg (Hong Kong)."
  type        = string

  validation {
    condition     = contains(["dfw", "iad", "ord", "lon", "fra", "syd", "hkg"], var.region)
    error_message = "region must be a known abbreviation: dfw, iad, ord, lon, fra, syd, hkg."
  }
}

variable "environment" {
  description = "Environment."
  type        = string

  validation {
    condition     = contains(["prod", "staging", "dev"], var.environment)
    error_message = "environment must be one of prod, staging, dev."
  }
}

variable "runner_pool" {
  description = "Value of the matchpoint.ai/runner-pool node label (and taint) runner pods select."
  type        = string
  default     = "github-actions"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.runner_pool))
    error_message = "runner_pool must be a Kubernetes label value: lower-case letters, digits and '-', at most 63."
  }
}
