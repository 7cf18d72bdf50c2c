output "root_applications" {
  description = "Names of the root Applications installed."
  value       = module.root_apps.names
}
