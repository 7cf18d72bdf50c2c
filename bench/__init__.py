"""Benchmarks: each prints a table with ratios against a baseline measured in the same run (bench/README.md). Run as `python -m bench.<name>` from the repository root, as the Makefile does."""
