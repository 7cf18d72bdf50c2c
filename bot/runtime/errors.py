"""Whether trying again can help: the two kinds of failure a delivery's handler can end
in, as kopf names them. The layer that retries (``bot.webhooks.dispatch``) knows only
these. Each is raised by the layer that knows the problem: the adapters raise their own
subclasses (``bot.clients.github``: ``GitHubUnavailable``, ``Conflict``,
``GitHubRejected``; ``bot.clients.kube``: ``KubeUnavailable``), the services raise these
two for problems of their own (a delivery with no installation, a file that kept
moving). Anything else escaping a handler is a bug."""

from __future__ import annotations


class TemporaryError(Exception):
    """Trying again later may succeed; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Trying again will not help; ``status`` is the HTTP status that said so (0: none)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
