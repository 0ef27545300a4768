"""Small helpers the test files share: the files of a profile, and the JSON shapes."""

from __future__ import annotations

from pathlib import Path

from milvus_conn import paths

# DESIGN §3: what `has --json` and `connect --json` print, on success and failure alike.
OUTCOME_KEYS = {
    "alias",
    "exit_code",
    "status",
    "protocol",
    "latency_ms",
    "server_version",
    "reason",
}


def state_file(profile: Path) -> Path:
    """This user's state file for `profile`: in $XDG_STATE_HOME/conn (isolated per test).
    Its directory is made (0700, as conn makes it), so a test may write a hand-made one."""
    path = paths.state_file(profile.absolute())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def state_lock(profile: Path) -> Path:
    """What connect and disconnect lock: a file beside the state file."""
    return paths.state_lock(profile.absolute())


def profile_lock(profile: Path) -> Path:
    """What commands that write the profile lock: its directory, opened read-only."""
    return profile.absolute().parent


def cache_file(profile: Path) -> Path:
    return paths.cache_file(profile.absolute())


def snapshot(profile: Path) -> dict[str, bytes | None]:
    """The exact bytes of the profile and the state file (None when absent)."""
    return {p.name: p.read_bytes() if p.exists() else None for p in (profile, state_file(profile))}


def write_profile(profile: Path, text: str | bytes) -> bytes:
    """Write a hand-made profile (0600, as conn would) and return its bytes."""
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    profile.chmod(0o600)
    return profile.read_bytes()
