output "name" {
  description = "The cloudspace's name (node pools attach to it)."
  value       = spot_cloudspace.this.cloudspace_name
}

output "kubeconfig_raw" {
  description = "A kubeconfig for the cloudspace (docs/KUBECONFIG_WORKFLOW.md)."
  value       = data.spot_kubeconfig.this.raw
  sensitive   = true
}

output "kubeconfig" {
  description = "The first kubeconfig entry, for providers (host, token)."
  value       = data.spot_kubeconfig.this.kubeconfigs[0]
  sensitive   = true
}
