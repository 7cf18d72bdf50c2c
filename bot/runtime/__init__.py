"""What the process runs on: settings read once (``settings``), which replica leads
(``leadership``), background loops (``background``), retention (``housekeeping``),
Prometheus metrics and JSON logs. May import the store; never a feature or webhook code."""
