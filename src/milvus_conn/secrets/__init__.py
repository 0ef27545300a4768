"""Where a password or token comes from: variables, secret-manager commands, the OS
credential store, in one order (sources.py).

It never speaks to a server (ARCHITECTURE.md, Boundaries). Empty, so that importing one
module costs that module (keyring loads only when a stored secret is read).
"""
