"""The test suite, by audience: unit/, app/, process/, deploy/; support/ holds what they share."""
