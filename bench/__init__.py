"""Offline benchmark of the service: DynamoDB round trips, provider calls, latency, cold start, layer size.

Run with `make bench` (or `python -m bench.run [--quick]`); see bench/README.md.
"""
