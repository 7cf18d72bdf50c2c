# The dev environment's Terraform state: its own address, so a dev plan never sees (or
# replaces) another environment's cloudspace. The http backend has no workspaces.
#   terraform init -reconfigure -backend-config=backends/dev.hcl
# Credentials stay in the environment: TF_HTTP_USERNAME, TF_HTTP_PASSWORD (a token).
address        = "https://state.example.com/runners/dev"
lock_address   = "https://state.example.com/runners/dev/lock"
unlock_address = "https://state.example.com/runners/dev/lock"
