"""What the cluster shows of a scale set, as plain data (``state``): the shape the
Kubernetes adapter (:mod:`bot.clients.kube`) fills and the reports
(:mod:`bot.reports`) judge. Pure: imports nothing from the rest of ``bot`` and does no
I/O."""
