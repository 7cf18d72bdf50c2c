output "name" {
  description = "The cloudspace name, {org}-{purpose}-{region}-{env}."
  value       = local.name
}

output "node_labels" {
  description = "Labels of the runner node pool's nodes."
  value       = local.node_labels
}

output "runner_taint" {
  description = "The taint that keeps other workloads off the runner nodes (runner pods tolerate it)."
  value       = local.runner_taint
}
