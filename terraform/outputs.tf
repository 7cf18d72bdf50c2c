output "cloudspace_name" {
  description = "The cloudspace, {org}-github-runners-{region}-{env}."
  value       = module.cloudspace.name
}

output "kubeconfig_raw" {
  description = "kubeconfig of the cluster: terraform output -raw kubeconfig_raw > kubeconfig (docs/KUBECONFIG_WORKFLOW.md)."
  value       = module.cloudspace.kubeconfig_raw
  sensitive   = true
}

output "runner_node_labels" {
  description = "Labels of the runner nodes (globalOverrides.nodeSelector selects them)."
  value       = module.naming.node_labels
}

output "root_applications" {
  description = "The Argo CD root Applications installed."
  value       = module.argocd.root_applications
}
