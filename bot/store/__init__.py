"""The state database: deliveries and their steps, keys, leases and locks.

``api`` is the interface the app uses (:class:`~bot.store.api.Store`, async); ``keys``
owns every key namespace and its lifetime; ``records`` the typed records features share;
``sql`` holds the queries, written once; ``sqlite`` (one replica, the default) and
``postgres`` (replicas sharing a database) are the engines. May import the pure
``bot.fleet`` (a burst's shape); nothing else of the app's.
"""
