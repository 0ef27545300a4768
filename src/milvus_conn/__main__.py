"""`python -m milvus_conn` runs the same CLI as `conn`."""

from milvus_conn.cli import main

main()
