# terraform plan -var-file=prod.tfvars   (the token: TF_VAR_rackspace_spot_token)
environment  = "prod"
region       = "dfw"
spot_region  = "us-central-dfw-1"
server_class = "gp.vs1.large-dfw"
bid_price    = 0.035
min_nodes    = 2
max_nodes    = 10

# The untainted system pool (Argo CD, ARC's controller and listeners, runners-bot).
system_server_class = "gp.vs1.medium-dfw"
system_bid_price    = 0.02
