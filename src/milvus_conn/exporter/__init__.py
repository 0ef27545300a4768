"""`conn exporter`: the profile's aliases served to Prometheus as blackbox_exporter serves
URLs (endpoints.py), on a bounded HTTP server of its own (httpd.py).

Loaded only for `conn exporter`; it must not know the CLI (ARCHITECTURE.md, Boundaries).
"""
