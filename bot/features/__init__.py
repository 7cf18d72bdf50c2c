"""What the app does, one module a feature, each declaring the deliveries it handles
(its routes): comment commands, onboarding by issue form, a bot pull request closed and
the rollout it starts (``rollout_watch``), the clock (schedules and bursts) and the
fleet dashboard. Features use everything below them and never one another: what they
share is in ``bot.services``, and one asks another to act through the signal relay
(``Services.poke``)."""
