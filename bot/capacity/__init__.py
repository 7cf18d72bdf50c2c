"""Capacity from evidence (SPEC §8), pure: which scale set a ``workflow_job`` belongs to
(``jobs``), queue-wait histograms (``histogram``), a window's evidence from hourly
aggregates (``evidence``), the right-sizing method (``recommend``) and prices (``cost``).
No I/O: the feature (:mod:`bot.features.capacity`) reads the store and GitHub's payloads
and hands plain values here. May import the pure values model (:mod:`bot.fleet`) only."""
