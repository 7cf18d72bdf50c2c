"""What the app does, one module a feature: comment commands, their pull requests, merged
and closed pull requests, onboarding by issue form, the clock (schedules and bursts),
rollout reports and the fleet dashboard. Features use everything below them. Some still
import one another (the comment handler reaches the scheduler and the dashboard): features
owning their routes and reaching each other through signals is the next step."""
