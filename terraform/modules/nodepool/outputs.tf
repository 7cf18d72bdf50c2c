output "name" {
  description = "The node pool's name, as Spot named it."
  value       = one(concat(spot_spotnodepool.runners[*].name, spot_ondemandnodepool.pool[*].name))
}

output "labels" {
  description = "Labels the pool's nodes carry."
  value       = var.labels
}
