"""Operator tools: the smoke test of a running stack (`python -m tools.smoke`)."""
