"""What the process runs on: settings read once (``settings``), which replica leads
(``leadership``), background loops (``background``), retention (``housekeeping``),
Prometheus metrics, JSON logs and errors that say whether trying again helps (``errors``).
May import the store; never a feature or webhook code."""
