"""The app in process: the real ASGI app, store and clients against the shared fakes (GitHub, Kubernetes)."""
