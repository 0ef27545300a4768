"""Where a probe goes and what it sends: the `Target` and `Credentials` value objects.

They live apart from the health core so that resolution (resolve.py) can build them
without importing grpc or the core; `milvus_conn.health` re-exports both.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up.
import binascii
from typing import NamedTuple

# Value objects are NamedTuples: frozen, and about a tenth of a dataclass's cost to define,
# which every probing run pays at start-up.


class Target(NamedTuple):
    """Where to connect and how: the parts that make one gRPC channel."""

    address: str
    secure: bool = False
    server_pem_path: str = ""
    ca_pem_path: str = ""
    client_pem_path: str = ""
    client_key_path: str = ""
    server_name: str = ""


class Credentials(NamedTuple):
    """Sent as metadata on every call, exactly as pymilvus sends them."""

    user: str = ""
    password: str = ""
    token: str = ""
    db_name: str = ""

    def __repr__(self) -> str:
        secrets = "password=<set> " if self.password else ""
        secrets += "token=<set> " if self.token else ""
        return f"Credentials(user={self.user!r} {secrets}db_name={self.db_name!r})"

    def metadata(self) -> tuple[tuple[str, str], ...]:
        pairs: list[tuple[str, str]] = []
        secret = self.token or (
            f"{self.user}:{self.password}" if self.user and self.password else ""
        )
        if secret:
            encoded = binascii.b2a_base64(secret.encode(), newline=False).decode("ascii")
            pairs.append(("authorization", encoded))  # base64, as pymilvus sends it
        if self.db_name:
            pairs.append(("dbname", self.db_name))
        return tuple(pairs)
