# terraform plan -var-file=dev.tfvars   (the token: TF_VAR_rackspace_spot_token)
environment  = "dev"
region       = "dfw"
spot_region  = "us-central-dfw-1"
server_class = "gp.vs1.medium-dfw"
bid_price    = 0.012
min_nodes    = 1
max_nodes    = 3

# The untainted system pool (Argo CD, ARC's controller and listeners, runners-bot).
system_server_class = "gp.vs1.medium-dfw"
system_bid_price    = 0.02
