"""Profile storage: the profile files and their layers, this user's state, the parse cache.

It knows files and values, never a server or where a secret comes from (ARCHITECTURE.md,
Boundaries). Empty, so that importing one module costs that module.
"""
