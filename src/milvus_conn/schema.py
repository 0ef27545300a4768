"""`conn schema`: a JSON Schema of the profile, for editors.

Draft-04, the draft Taplo (and with it VS Code's Even Better TOML) reads. It says what
conn itself accepts: an alias needs `address` or `uri`; TLS files and `server_name`
need `secure = true`; a client certificate needs its key. Unknown keys are allowed,
top-level and per alias, since conn keeps them on rewrite.
"""

from __future__ import annotations

from typing import Any

from .config import PROBES, TLS_FILE_KEYS
from .storage.profile import PROFILE_VERSION

_TEXT = {"type": "string"}
_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "address": ({**_TEXT, "minLength": 1}, "host:port, or unix:/path (normalised by conn add)."),
    "uri": (_TEXT, "http[s]://[user@]host[:port][/db_name] or unix:/path, as given."),
    "user": (_TEXT, "User name."),
    "db_name": (_TEXT, "Database name (default: default)."),
    "secure": ({"type": "boolean"}, "Use TLS."),
    "server_pem_path": (_TEXT, "Server certificate (one-way TLS); relative to this file."),
    "server_name": (_TEXT, "TLS server name override."),
    "client_pem_path": (_TEXT, "Client certificate (mutual TLS); relative to this file."),
    "client_key_path": (_TEXT, "Client private key (mutual TLS); relative to this file."),
    "ca_pem_path": (_TEXT, "CA certificate; relative to this file."),
    "timeout": (
        {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        "Seconds to wait for an answer (default: $MILVUS_CONN_TIMEOUT, else 10).",
    ),
    "probe": ({"enum": list(PROBES)}, "Which health protocol to ask."),
    "health_service": (_TEXT, "grpc.health.v1 service name."),
    "password_env": (_TEXT, "Name of the environment variable holding the password."),
    "token_env": (_TEXT, "Name of the environment variable holding the token."),
    "password_command": (
        {**_TEXT, "pattern": r"\S"},
        "Command printing the password, run without a shell (e.g. pass show milvus/prod); "
        "only from a file no other user can write.",
    ),
    "token_command": (
        {**_TEXT, "pattern": r"\S"},
        "Command printing the token (e.g. op read op://ops/milvus/token); only from a file "
        "no other user can write.",
    ),
    "password": (_TEXT, "Plain password: works, but prefer conn login or password_env."),
    "token": (_TEXT, "Plain token: works, but prefer conn login --token or token_env."),
}


def _alias() -> dict[str, Any]:
    """One [connections.NAME] table."""
    needs_tls = {"properties": {"secure": {"enum": [True]}}, "required": ["secure"]}
    dependencies: dict[str, Any] = {key: needs_tls for key in (*TLS_FILE_KEYS, "server_name")}
    dependencies["client_pem_path"] = {**needs_tls, "required": ["secure", "client_key_path"]}
    dependencies["client_key_path"] = {**needs_tls, "required": ["secure", "client_pem_path"]}
    return {
        "type": "object",
        "description": "One alias.",
        "properties": {
            name: {**shape, "description": text} for name, (shape, text) in _FIELDS.items()
        },
        "anyOf": [{"required": ["address"]}, {"required": ["uri"]}],
        "dependencies": dependencies,
        "additionalProperties": True,
    }


def profile_schema() -> dict[str, Any]:
    """The JSON Schema (draft-04) of profiles.toml."""
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "conn profile (profiles.toml)",
        "description": "Named connections to Milvus and grpc.health.v1 servers (milvus-conn).",
        "type": "object",
        "properties": {
            "version": {"enum": [PROFILE_VERSION], "description": "Profile format version."},
            "default_alias": {**_TEXT, "description": "The alias used when none is named."},
            "connections": {
                "type": "object",
                "description": "Aliases by name.",
                "additionalProperties": _alias(),
            },
        },
        "additionalProperties": True,
    }
