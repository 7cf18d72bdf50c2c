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

output "system_node_labels" {
  description = "Labels of the system node pool's nodes (untainted: every system workload runs there)."
  value       = local.system_node_labels
}
