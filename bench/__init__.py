"""Benchmarks (``make bench``; results in bench/RESULTS.md, one section per benchmark)."""
