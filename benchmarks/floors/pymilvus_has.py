"""What `conn has` replaces: pymilvus's `connections` in a fresh interpreter.

usage: pymilvus_has.py ALIAS URI
"""

import sys

from pymilvus import connections

alias, uri = sys.argv[1], sys.argv[2]
connections.connect(alias, uri=uri)
sys.exit(0 if connections.has_connection(alias) else 1)
