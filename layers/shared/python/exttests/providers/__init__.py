"""External test platforms: the port (base.py), the shared HTTP core (http.py) and the adapters.

Adapters are imported from their own modules so that loading the port stays cheap.
"""
