terraform {
  required_version = ">= 1.7"

  required_providers {
    spot = {
      source  = "rackerlabs/spot"
      version = "~> 0.1.4"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
  }

  # State in an HTTP backend (the seed's workflow). Address, lock address and user come
  # from -backend-config or TF_HTTP_ADDRESS, TF_HTTP_LOCK_ADDRESS, TF_HTTP_UNLOCK_ADDRESS,
  # TF_HTTP_USERNAME; the password (a token) from TF_HTTP_PASSWORD. docs/KUBECONFIG_WORKFLOW.md.
  backend "http" {}
}
