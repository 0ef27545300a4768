"""`conn doctor`: check a setup, without the network unless asked, and say how to fix it.

Each finding is `ok`, a `note` (worth knowing, nothing broken) or `fix` (something to
change, with the change). Exit 0 when nothing needs fixing, 1 when something does, 6
when the profile cannot be read at all. It reads files and the environment, never a
secret's value into a message, and imports neither grpc nor pymilvus (`--network`
loads the health core to probe, as `list --check` does, and so runs secret commands);
keyring only to check the secrets of aliases that logged in.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
import stat
import warnings
from pathlib import Path
from typing import Any, NamedTuple

from .address import shown
from .config import TLS_FILE_KEYS, AliasConfig
from .errors import ExitCode, MilvusException, PlainSecretWarning, ProfileException
from .registry import Connections, builtin_alias
from .storage.trust import file_doubt

OK, NOTE, FIX = "ok", "note", "fix"
EXPIRY_NOTE_DAYS = 14  # a certificate closer than this to expiry is worth a note
_CERT_KEYS = ("server_pem_path", "client_pem_path", "ca_pem_path")


class Finding(NamedTuple):
    check: str  # profile, state, secrets, tls, pymilvus, network
    status: str  # ok | note | fix
    message: str
    fix: str = ""


class Report(NamedTuple):
    profile: str
    state: str
    findings: "list[Finding]"
    exit_code: int

    def to_dict(self) -> dict[str, Any]:
        return {**self._asdict(), "findings": [f._asdict() for f in self.findings]}


def diagnose(
    registry: Connections, *, network: bool = False, timeout: float | None = None
) -> Report:
    """Every check, in the order a person would fix things."""
    store = registry.store
    findings = _files(store.path)
    aliases: dict[str, AliasConfig] | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PlainSecretWarning)  # reported below, with a fix
            loaded = store.load()
        aliases = dict(loaded.aliases)
        findings.append(Finding("profile", OK, f"parses: {len(aliases)} alias(es)"))
    except ProfileException as exc:
        findings.append(Finding("profile", FIX, exc.message, "correct the file; conn never "
                                "overwrites a profile it cannot read"))  # fmt: skip
    findings += _state(registry, aliases)
    findings += _trusted(store)
    if aliases is not None:
        findings += _secrets(registry, aliases)
        findings += _tls(store.base_dir, aliases)
    findings.append(_pymilvus())
    if network and aliases is not None:
        findings += _network(registry, aliases, timeout)
    code = (
        ExitCode.PROFILE if aliases is None
        else ExitCode.FALSE if any(f.status == FIX for f in findings)
        else ExitCode.OK
    )  # fmt: skip
    return Report(str(store.path), str(store.state_path), findings, code)


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def _files(path: Path) -> list[Finding]:
    """Where the profile is, and whether others could change it (or the directory)."""
    where, folder = shown(str(path)), shown(str(path.parent))
    mode, dir_mode = _mode(path), _mode(path.parent)
    if mode is None:
        return [Finding("profile", NOTE, f"no profile at {where} yet",
                        "conn add creates it (mode 0600, in a 0700 directory)")]  # fmt: skip
    found = [Finding("profile", OK, f"{where}: mode {mode:04o}")]
    if mode & 0o022:
        found.append(Finding("profile", FIX, f"{where} can be changed by other users",
                             f"chmod 600 {where}"))  # fmt: skip
    shared = dir_mode is not None and dir_mode & 0o022 and not dir_mode & stat.S_ISVTX
    status = FIX if shared else OK
    found.append(Finding("profile", status, f"directory {folder}: mode {dir_mode or 0:04o}"
                         + (", others can replace the profile in it" if shared else ""),
                         f"chmod 700 {folder}" if shared else ""))  # fmt: skip
    return found


def _state(registry: Connections, aliases: "dict[str, AliasConfig] | None") -> list[Finding]:
    """The state file parses, and records no alias the profile no longer has."""
    path = shown(str(registry.store.state_path))
    try:
        connected = registry.store.load_state().connected
    except ProfileException as exc:
        return [Finding("state", FIX, exc.message, f"delete {path}: it only records which "
                        "aliases are connected (conn connect records them again)")]  # fmt: skip
    found = [Finding("state", OK, f"{path}: {len(connected)} connected alias(es)")]
    if aliases is None:
        return found
    for alias in connected:
        if alias not in aliases and alias != builtin_alias():
            found.append(Finding(
                "state", FIX, f"{alias!r} is recorded as connected but is not in the profile",
                f"delete its entry under \"connected\" in {path}, or add the alias again",
            ))  # fmt: skip
    return found


def _trusted(store: Any) -> list[Finding]:
    """The state file and each layer's parse cache, and their directories: conn believes
    them only while no one else could have written them (storage/trust.py)."""
    layers = getattr(store, "layers", [store])
    files = [("state", "state file", store.state_path)]
    files += [("cache", "parse cache", layer.cache_path) for layer in layers]
    found = []
    for check, what, path in files:
        doubt = file_doubt(path)
        if doubt is not None:
            named = what if doubt.path == path else f"{what} directory"
            message = f"{named} {shown(str(doubt.path))} {doubt.problem}: conn does not believe it"
            found.append(Finding(check, FIX, message, doubt.fix))
    return found


def _secrets(registry: Connections, aliases: "dict[str, AliasConfig]") -> list[Finding]:
    """Each alias's secrets can be found (secrets/findings.py; --network runs the commands)."""
    from .secrets.findings import findings

    store = registry.store
    found = findings(aliases, store.source_of, store.path)
    return [Finding("secrets", *finding) for finding in found]


def _tls(base_dir: Path, aliases: "dict[str, AliasConfig]") -> list[Finding]:
    """Each TLS file can be used (probe/tlsfiles.py reads and checks it, as a probe would);
    certificates are current; the client key is private and matches its certificate."""
    found: list[Finding] = []
    for alias, config in aliases.items():
        paths = config.resolved_tls_paths(base_dir)
        usable = [key for key in TLS_FILE_KEYS if key in paths and _tls_file(
            found, alias, key, paths[key])]  # fmt: skip
        if "client_pem_path" in usable and "client_key_path" in usable:
            found += _key_pair(alias, paths["client_pem_path"], paths["client_key_path"])
    if not found:
        found.append(Finding("tls", OK, "no alias uses TLS files"))
    return found


def _tls_file(found: "list[Finding]", alias: str, key: str, path: str) -> bool:
    """Add the file's finding to `found`; True when it can be used."""
    from .probe import tlsfiles

    where = f"alias {alias!r}: {key} {shown(path)}"
    try:
        tlsfiles.read_tls_file(key, path)
    except tlsfiles.TLSFileError as exc:
        fix = _TLS_FIXES[exc.problem].format(key=key, path=shown(path))
        found.append(Finding("tls", FIX, f"alias {alias!r}: {exc.message}", fix))
        return False
    if key != "client_key_path":
        found.append(_certificate(where, path))
    elif (_mode(Path(path)) or 0) & 0o077:
        found.append(Finding("tls", FIX, f"{where} is a private key other users can read",
                             f"chmod 600 {shown(path)}"))  # fmt: skip
    else:
        found.append(Finding("tls", OK, f"{where} is readable"))
    return True


_TLS_FIXES = {
    "missing": "put the file there, or set {key} of this alias in the profile to the right one",
    "unreadable": "point {key} at a regular file conn can read (chmod u+r {path}, or run conn "
    "as its owner)",
    "not PEM": "point {key} at a PEM file (openssl x509 -inform der -in FILE converts DER)",
    "encrypted": "decrypt it: openssl pkey -in {path} -out KEY.plain (then chmod 600)",
}


def _certificate(where: str, path: str) -> Finding:
    import ssl

    from .probe.certinfo import describe_file

    try:
        info = describe_file(path)
    except (ssl.SSLError, OSError, ValueError, KeyError):
        return Finding("tls", FIX, f"{where} holds no PEM certificate", "point it at a PEM file")
    if info.expires_in_days < 0:
        return Finding("tls", FIX, f"{where} expired on {info.not_after}", "renew the certificate")
    if info.expires_in_days < EXPIRY_NOTE_DAYS:
        return Finding("tls", NOTE, f"{where} expires in {info.expires_in_days} day(s), on "
                       f"{info.not_after}", "renew it soon")  # fmt: skip
    return Finding("tls", OK, f"{where}: valid for {info.expires_in_days} more days")


def _key_pair(alias: str, pem: str, private: str) -> list[Finding]:
    """The ssl module loads the pair as TLS would, and refuses a key of another certificate
    (the key is known to be plain: _tls_file checked it)."""
    import ssl

    def no_passphrase() -> str:  # never OpenSSL's prompt on the terminal
        raise ValueError("encrypted")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    where = f"alias {alias!r}: client_key_path"
    try:
        context.load_cert_chain(pem, private, password=no_passphrase)
    except (ssl.SSLError, ValueError) as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            message = f"{where} does not match the certificate in client_pem_path"
        else:
            message = f"{where} cannot be loaded with its certificate: {exc}"
        return [Finding("tls", FIX, message, "give the key the certificate was issued for")]
    return [Finding("tls", OK, f"{where} matches its certificate")]


def _pymilvus() -> Finding:
    """Whether the installed pymilvus deprecates `connections`, read from its source, not
    imported (importing it loads grpc)."""
    from importlib.util import find_spec

    from .about import installed

    version = installed("pymilvus")
    spec = find_spec("pymilvus") if version else None
    if not version or spec is None or not spec.submodule_search_locations:
        return Finding("pymilvus", OK, "pymilvus is not installed (milvus_conn.client() needs "
                       "it: pip install 'milvus-conn[pymilvus]')")  # fmt: skip
    source = Path(next(iter(spec.submodule_search_locations))) / "orm" / "connections.py"
    try:
        deprecated = 'deprecated("connections.' in source.read_text(encoding="utf-8")
    except OSError:
        deprecated = not version.startswith(("0.", "1.", "2."))
    if not deprecated:
        return Finding("pymilvus", OK, f"pymilvus {version}: its connections is current")
    return Finding(
        "pymilvus", NOTE, f"pymilvus {version} deprecates its connections (pymilvus 3.1 "
        "removes it), and MilvusClient has no named connections",
        "keep your aliases with milvus_conn: `from milvus_conn import connections` (the same "
        "calls) or `milvus_conn.client(\"alias\")` for a MilvusClient",
    )  # fmt: skip


def _network(
    registry: Connections, aliases: "dict[str, AliasConfig]", timeout: float | None
) -> list[Finding]:
    """Probe every stored alias at once, as `conn list --check` does."""
    from .probe.health import check_many
    from .probe.tlsfiles import TLSFileError, read_tls_files

    probes, found = [], []
    for alias, config in aliases.items():
        try:
            probe = registry.probe_for(alias, config, timeout)
            if probe.target.secure:
                read_tls_files(probe.target)  # never a pass phrase prompt, never a FIFO
            probes.append((alias, config, probe))
        except TLSFileError:
            found.append(Finding("network", FIX, f"{alias!r} not probed: a TLS file cannot "
                                 "be used (see tls above)"))  # fmt: skip
        except MilvusException as exc:
            found.append(Finding("network", FIX, f"{alias!r} not probed: {exc.message}"))
    try:
        results = check_many([probe for _, _, probe in probes])
    except TLSFileError as exc:  # a TLS file that changed since: as list --check reports it
        return [*found, Finding("network", FIX, exc.message)]
    for (alias, config, _), result in zip(probes, results, strict=True):
        text = f"{alias!r} ({config.address}): {result.status}"
        if result.healthy:
            found.append(Finding("network", OK, f"{text} in {result.latency_ms:.1f} ms"))
        else:
            found.append(Finding("network", FIX, f"{text}: {result.reason}",
                                 _PROBE_FIXES.get(result.exit_code, "")))  # fmt: skip
    return found


_PROBE_FIXES = {
    ExitCode.UNREACHABLE: "is the server up at that address? (conn has ALIAS --wait S waits)",
    ExitCode.UNHEALTHY: "the server answers but is not serving: check its logs",
    ExitCode.AUTH: "check the user and the password or token the alias refers to",
}


def text(report: Report) -> str:
    """One line per finding, its fix indented below it, and a count at the end."""
    lines = [f"conn doctor: {shown(report.profile)}"]
    for finding in report.findings:
        lines.append(f"  {finding.status.upper():<5} {finding.check:<9} {finding.message}")
        if finding.fix and finding.status != OK:
            lines.append(f"  {'':<15} fix: {finding.fix}")
    fixes = sum(f.status == FIX for f in report.findings)
    notes = sum(f.status == NOTE for f in report.findings)
    lines.append(f"{fixes} to fix, {notes} note(s)" if fixes or notes else "all good")
    return "\n".join(lines)
