"""TLS files are read once, with bounds, and checked before any connection: a path that is
not a regular file (FIFO, device, socket, directory), too big, a symlink loop, a path
through a file or too long a name; a file that is not PEM; an encrypted client key, which
OpenSSL would ask a pass phrase for on the terminal. Each is exit 2 with a sentence naming
the option and the path, and no connection is made."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from milvus_conn import ConnectionConfigException
from milvus_conn.probe.tlsfiles import read_tls_file
from milvus_conn.untrusted import TLS_FILE_LIMIT

from .conftest import run_conn
from .helpers import on_own_terminal

OPTIONS = ["--ca-pem-path", "--server-pem-path", "--client-pem-path", "--client-key-path"]


def encrypted_key(certs: Path, out: Path, *, traditional: bool = False) -> Path:
    """The test client's key, encrypted: PKCS#8 (`ENCRYPTED PRIVATE KEY`), or the
    traditional form with its `Proc-Type: 4,ENCRYPTED` header."""
    key = serialization.load_pem_private_key((certs / "client.key").read_bytes(), None)
    form = (
        serialization.PrivateFormat.TraditionalOpenSSL if traditional
        else serialization.PrivateFormat.PKCS8
    )  # fmt: skip
    crypt = serialization.BestAvailableEncryption(b"pass phrase")
    out.write_bytes(key.private_bytes(serialization.Encoding.PEM, form, crypt))
    out.chmod(0o600)
    return out


def connect_with(server_address: str, certs: Path, option: str, path: Path | str) -> list[str]:
    """`conn connect x` over TLS with `option` naming `path` and the other files good."""
    files = {
        "--ca-pem-path": str(certs / "ca.pem"),
        "--client-pem-path": str(certs / "client.pem"),
        "--client-key-path": str(certs / "client.key"),
    }
    if option == "--server-pem-path":
        del files["--ca-pem-path"]  # the CA wins when both are given: the server pem unused
    files[option] = str(path)
    options = [word for pair in files.items() for word in pair]
    return ["connect", "x", "--address", server_address, "--secure", *options, "--timeout", "3"]


# not PEM, encrypted: refused before any connection -------------------------------------


@pytest.mark.parametrize("option", OPTIONS)
def test_a_file_that_is_not_pem_is_refused_before_any_connection(
    cli, silent_server, certs, tmp_path, option
):
    der = tmp_path / "not.pem"  # a real certificate, but DER: OpenSSL wants PEM here
    der.write_bytes(b"0\x82\x01\x0a" + os.urandom(64))
    result = cli(*connect_with(silent_server.address, certs, option, der), code=2)
    kind = "private key" if option == "--client-key-path" else "certificate"
    assert result.stderr == f"Error: {option} {der} is not a PEM {kind}\n"
    assert silent_server.open == []  # no connection was made


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello\n",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",  # not DER
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n",  # unbalanced
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",  # another kind
    ],
    ids=["empty", "text", "bad-base64", "not-der", "unbalanced", "public-key"],
)
def test_pem_armour_of_the_wrong_shape_is_not_a_certificate(tmp_path, text):
    path = tmp_path / "f.pem"
    path.write_text(text)
    with pytest.raises(ConnectionConfigException) as info:
        read_tls_file("ca_pem_path", str(path))
    assert (str(info.value), info.value.exit_code) == (
        f"--ca-pem-path {path} is not a PEM certificate",
        2,
    )


def test_pem_with_text_around_it_and_a_bundle_are_accepted(certs, tmp_path):
    bundle = tmp_path / "bundle.pem"
    ca = (certs / "ca.pem").read_bytes()
    bundle.write_bytes(b"Bag Attributes\n  friendlyName: ca\n" + ca + b"\r\n" + ca + b"# end\n")
    assert read_tls_file("ca_pem_path", str(bundle)) == bundle.read_bytes()
    key = (certs / "client.key").read_bytes()
    assert read_tls_file("client_key_path", str(certs / "client.key")) == key


@pytest.mark.parametrize("traditional", [False, True], ids=["pkcs8", "proc-type"])
def test_an_encrypted_client_key_is_refused_before_the_handshake(
    cli, silent_server, certs, tmp_path, traditional
):
    key = encrypted_key(certs, tmp_path / "enc.key", traditional=traditional)
    result = cli(*connect_with(silent_server.address, certs, "--client-key-path", key), code=2)
    assert result.stderr == (
        f"Error: --client-key-path {key} is encrypted; conn cannot prompt for its pass phrase\n"
    )
    assert silent_server.open == []


def test_nothing_waits_for_a_pass_phrase_on_a_terminal(cli, tls_health, certs, tmp_path):
    """connect, has and doctor --network on a terminal that is the process's own (where
    OpenSSL would prompt): each ends at once, and nothing asks for a pass phrase."""
    key = tmp_path / "client.key"
    key.write_bytes((certs / "client.key").read_bytes())
    key.chmod(0o600)
    good = ["--address", tls_health.address, "--secure", "--ca-pem-path",
            str(certs / "ca.pem"), "--client-pem-path", str(certs / "client.pem"),
            "--client-key-path", str(key)]  # fmt: skip
    cli("connect", "x", *good)  # connected with the plain key
    encrypted_key(certs, key)  # ... which is then encrypted in place
    expected = f"--client-key-path {key} is encrypted; conn cannot prompt for its pass phrase"
    for args, code in (
        (["has", "x", "--min-cert-days", "0"], 2),  # the gate reads the certificate
        (["doctor", "--network"], 1),
        (["-v", "connect", "x"], 2),  # -v describes the certificate: a second handshake
    ):
        status, shown = on_own_terminal(*args)
        assert status == code, f"conn {' '.join(args)}: {status}\n{shown}"
        assert "Enter PEM pass phrase" not in shown
        assert expected in " ".join(shown.split()), shown  # rich may wrap a table's cell


# what is not a regular file, or cannot be reached --------------------------------------


def special_paths(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (path, the words conn says about it)."""
    fifo = tmp_path / "fifo.pem"
    os.mkfifo(fifo)
    sock_path = tmp_path / "s.pem"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    (tmp_path / "dir.pem").mkdir()
    (tmp_path / "loop.pem").symlink_to(tmp_path / "loop.pem")
    (tmp_path / "file").write_text("x")
    big = tmp_path / "big.pem"
    with big.open("wb") as handle:
        handle.truncate(TLS_FILE_LIMIT + 1)
    long_name = tmp_path / ("x" * 300)
    return {
        "fifo": (str(fifo), ": is a FIFO (named pipe), not a regular file"),
        "char-device": ("/dev/zero", ": is a character device, not a regular file"),
        "socket": (str(sock_path), ": is a socket, not a regular file"),
        "directory": (str(tmp_path / "dir.pem"), ": is a directory, not a regular file"),
        "symlink-loop": (
            str(tmp_path / "loop.pem"),
            ": too many levels of symbolic links (a symlink loop?)",
        ),
        "through-a-file": (
            str(tmp_path / "file" / "ca.pem"),
            ": a part of the path is a file, not a directory",
        ),
        "too-long": (str(long_name), ": the path is too long for this system (ENAMETOOLONG)"),
        "too-big": (str(big), ": is larger than conn reads (4 MiB; the limit is 4 MiB)"),
        "missing": (str(tmp_path / "gone.pem"), ": no such file"),
    }


KINDS = ["fifo", "char-device", "socket", "directory", "symlink-loop", "through-a-file",
         "too-long", "too-big", "missing"]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_a_tls_path_that_is_not_a_regular_file_is_refused_at_once(
    profile, silent_server, certs, tmp_path, kind
):
    path, words = special_paths(tmp_path)[kind]
    option = "--ca-pem-path" if kind != "fifo" else "--client-key-path"
    done = run_conn(*connect_with(silent_server.address, certs, option, path))  # 60 s at most
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"Error: {option} {path}{words}\n"
    assert silent_server.open == []


def test_list_check_makes_a_bad_tls_file_that_aliases_row_alone(cli, serving, tmp_path):
    os.mkfifo(tmp_path / "ca.pem")
    cli("add", "good", "--address", serving.address)
    cli("add", "fifo", "--address", serving.address, "--secure",
        "--ca-pem-path", str(tmp_path / "ca.pem"))  # fmt: skip
    rows = {
        row["alias"]: row for row in json.loads(cli("list", "--check", "--json", code=2).stdout)
    }
    assert rows["good"]["health"]["status"] == "healthy"
    assert (rows["fifo"]["health"]["exit_code"], rows["fifo"]["health"]["reason"]) == (
        2,
        f"alias 'fifo': --ca-pem-path {tmp_path / 'ca.pem'}: is a FIFO (named pipe), "
        "not a regular file",
    )
