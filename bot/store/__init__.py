"""The state database: deliveries and their steps, keys, leases and locks (``inbox``:
the interface, its queries and SQLite; ``postgres``: the same on PostgreSQL for several
replicas). Imports no feature."""
