output "id" {
  description = "Changes when the pool was waited for again: depend on it to run after its nodes are Ready."
  value       = terraform_data.ready.id
}
