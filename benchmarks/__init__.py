"""Benchmarks (``make bench``): fleet-scale request counts and latency, cold start, and the continuity
simulation. Not part of ``make test`` except the continuity simulation at a small size."""
