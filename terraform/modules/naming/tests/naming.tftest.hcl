# terraform test: the names and labels the convention builds, and the ones it refuses.

run "seed_production_runners" {
  command = plan
  variables {
    purpose     = "github-runners"
    region      = "dfw"
    environment = "prod"
  }
  assert {
    condition     = output.name == "matchpoint-github-runners-dfw-prod"
    error_message = "the seed's production cloudspace name"
  }
  assert {
    condition = output.node_labels == {
      "matchpoint.ai/purpose"     = "github-runners"
      "matchpoint.ai/environment" = "prod"
      "matchpoint.ai/runner-pool" = "github-actions"
    }
    error_message = "node labels the runner pods select"
  }
  assert {
    condition     = output.runner_taint.effect == "NoSchedule" && output.runner_taint.value == "github-actions"
    error_message = "the runner pool taint"
  }
}

run "app_hosting_in_ashburn" {
  command = plan
  variables {
    purpose     = "app-hosting"
    region      = "iad"
    environment = "staging"
  }
  assert {
    condition     = output.name == "matchpoint-app-hosting-iad-staging"
    error_message = "another purpose, region and environment"
  }
}

run "refuses_an_unknown_purpose" {
  command = plan
  variables {
    purpose     = "bitcoin-mining"
    region      = "dfw"
    environment = "prod"
  }
  expect_failures = [var.purpose]
}

run "refuses_an_unknown_region" {
  command = plan
  variables {
    purpose     = "github-runners"
    region      = "us-central-dfw-1"
    environment = "prod"
  }
  expect_failures = [var.region]
}

run "refuses_an_unknown_environment" {
  command = plan
  variables {
    purpose     = "github-runners"
    region      = "dfw"
    environment = "production"
  }
  expect_failures = [var.environment]
}

run "refuses_upper_case_org" {
  command = plan
  variables {
    org         = "Matchpoint"
    purpose     = "github-runners"
    region      = "dfw"
    environment = "prod"
  }
  expect_failures = [var.org]
}

run "refuses_a_bad_runner_pool_label" {
  command = plan
  variables {
    purpose     = "github-runners"
    region      = "dfw"
    environment = "prod"
    runner_pool = "GitHub Actions"
  }
  expect_failures = [var.runner_pool]
}

run "refuses_an_org_too_long_for_a_dns_name" {
  command = plan
  variables {
    org         = "matchpointartificialintelligence"
    purpose     = "github-runners"
    region      = "dfw"
    environment = "prod"
  }
  expect_failures = [var.org]
}
