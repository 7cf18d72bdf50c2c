output "root_applications" {
  description = "Names of the root Applications installed."
  value       = sort(keys(local.root_apps))
}
