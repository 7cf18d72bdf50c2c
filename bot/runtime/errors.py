"""Whether trying again can help: the two kinds of failure a delivery's handler can end
in, as kopf names them. The layer that retries (``bot.webhooks.dispatch``) knows only
these; each adapter raises its own subclasses (``bot.clients.github``)."""

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
