"""The probe core: a target, credentials and a deadline in, a HealthResult out, over gRPC.

A leaf: it imports nothing of ours outside itself but errors.py and untrusted.py
(ARCHITECTURE.md, Boundaries). Empty, so that importing one module costs that module.
"""
