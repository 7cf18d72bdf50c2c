"""Deliveries from GitHub: the endpoint that verifies, stores and acknowledges them
(``endpoint``), which ones carry work and what each is about (``routing``), the workers
and retries (``dispatch``), and asking GitHub again for missed ones (``recovery``). May
import the store, the runtime, the clients and the pure packages; never a feature (the
server hands the dispatcher its handlers)."""
