"""Benchmarks of the token API (``make bench``; results in bench/RESULTS.md)."""
