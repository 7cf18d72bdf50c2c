"""Deliveries from GitHub: the endpoint that verifies, stores and acknowledges them
(``endpoint``), routes (``routing``: which deliveries carry work, for which feature, and
what each is about), the workers and retries (``dispatch``), asking GitHub again for
missed ones (``recovery``), and answering on a thread once per step (``threads``). May
import the store, the runtime, the clients and the pure packages; never a service or a
feature (the server assembles the features' routes and hands them over)."""
