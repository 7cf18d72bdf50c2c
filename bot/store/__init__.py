"""The state database: deliveries and their steps, keys, leases and locks.

``api`` is the interface the app uses (:class:`~bot.store.api.Store`, async); ``keys``
owns every key namespace and its lifetime; ``sql`` holds the queries, written once;
``sqlite`` (one replica, the default) and ``postgres`` (replicas sharing a database)
are the engines. Imports nothing of the app's but itself.
"""
