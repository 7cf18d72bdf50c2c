"""The adapters to the outside: GitHub (``github``, the only module that talks to it),
Kubernetes (``kube``, the only one that talks to it: reads, watches, and the scale sets'
min/max) and the configuration repository's values files (``config_source``). May import
the pure packages and ``bot.runtime``'s settings and metrics; never a feature."""
