# The prod environment's Terraform state: its own address, so a prod plan never sees (or
# replaces) another environment's cloudspace. The http backend has no workspaces.
#   terraform init -reconfigure -backend-config=backends/prod.hcl
# Credentials stay in the environment: TF_HTTP_USERNAME, TF_HTTP_PASSWORD (a token).
address        = "https://state.example.com/runners/prod"
lock_address   = "https://state.example.com/runners/prod/lock"
unlock_address = "https://state.example.com/runners/prod/lock"
