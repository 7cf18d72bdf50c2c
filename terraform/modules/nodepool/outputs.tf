output "name" {
  description = "The node pool's name, as Spot named it."
  value       = spot_spotnodepool.runners.name
}

output "labels" {
  description = "Labels the pool's nodes carry."
  value       = spot_spotnodepool.runners.labels
}
