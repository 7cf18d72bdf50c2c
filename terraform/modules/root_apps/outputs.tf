output "controller" {
  description = "argocd-apps' applications value for the controller tier."
  value       = { for name, app in local.apps : name => app if name == var.controller_application }
}

output "dependents" {
  description = "argocd-apps' applications value for everything that needs the controller (the fleet)."
  value       = { for name, app in local.apps : name => app if name != var.controller_application }
}

output "names" {
  description = "Every root Application."
  value       = sort(keys(local.apps))
}
