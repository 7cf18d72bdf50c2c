"""What ships besides the app: the charts through ARC's real chart and CRDs, the fleet, Terraform, workflows, docs."""
