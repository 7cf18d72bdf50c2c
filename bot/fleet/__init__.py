"""The fleet's configuration as data: the values files' model (``config``), loading YAML
with line numbers (``yamlload``), editing ``repositories.yaml`` without touching other
bytes (``yamledit``), the rules (``validation``), schedules and bursts (``schedules``),
names (``names``), suggestions and diffs. Pure: imports nothing from the rest of ``bot``
and does no I/O."""
