"""The shared fakes (one per system, refusing what it refuses), servers, payloads and upstream readers the tests use."""
