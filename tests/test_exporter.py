"""`conn exporter`: /probe, /sd and /metrics in front of real servers (a grpc.health.v1
server, Milvus Lite with a loaded and a released collection, the real Milvus 2.3.5 over
TLS, refused and silent ports), and the profile followed as it changes or breaks."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest

from . import servers
from .conftest import run_conn
from .exporters import exporter, until
from .helpers import CORRUPT, one_error_line, write_profile


def _profile(profile, **aliases: str) -> None:
    """A hand-written profile: alias = its table's body."""
    tables = "".join(f"\n[connections.{name}]\n{body}\n" for name, body in aliases.items())
    write_profile(profile, "version = 1\n" + tables)


@pytest.fixture
def fleet(profile, serving, silent_server):
    """`up` (serving), `down` (refused), `mute` (silent, 30 s timeout)."""
    _profile(
        profile,
        up=f'address = "{serving.address}"',
        down=f'address = "{servers.refused_address()}"',
        mute=f'address = "{silent_server.address}"\ntimeout = 30.0',
    )
    return profile


@pytest.fixture
def running(fleet):
    with exporter(fleet) as process:
        yield process


def test_it_says_where_it_listens_and_how_many_aliases(running):
    assert running.stdout_line == (
        f"Serving 3 aliases on http://{running.address} (/probe?alias=A, /sd, /metrics)\n"
    )


def test_a_healthy_alias_is_probe_success_1_exit_code_0(running):
    answer = running.probe("up")
    assert answer.status == 200, answer
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    found = answer.samples()
    assert found["probe_success"] == 1
    assert found["conn_probe_exit_code"] == 0
    assert 0 < found["probe_duration_seconds"] < 30
    assert found["conn_profile_readable"] == 1
    assert "probe_ssl_earliest_cert_expiry" not in found  # no TLS, no certificate


def test_a_refused_alias_is_probe_success_0_exit_code_3_saying_why(running):
    answer = running.probe("down")
    assert answer.status == 200, answer
    assert answer.samples()["probe_success"] == 0
    assert answer.samples()["conn_probe_exit_code"] == 3
    assert "\n# conn: unreachable: cannot reach 127.0.0.1:" in answer.body
    assert "connection refused" in answer.body


def test_a_silent_alias_answers_within_the_scrape_timeout_less_the_margin(running):
    header = {"X-Prometheus-Scrape-Timeout-Seconds": "2"}
    answer = running.probe("mute", headers=header)
    assert answer.status == 200, answer
    found = answer.samples()
    assert found["probe_success"] == 0
    assert found["conn_probe_exit_code"] == 3
    # the alias allows 30 s; the scrape 2 s, of which 0.5 s is kept back as a margin
    assert "no answer from" in answer.body and "within 1.4" in answer.body
    assert found["probe_duration_seconds"] < 2


def test_without_the_header_the_alias_timeout_holds(profile, silent_server):
    _profile(profile, mute=f'address = "{silent_server.address}"\ntimeout = 0.5')
    with exporter(profile) as running:
        answer = running.probe("mute")
    assert "within 0.5 s" in answer.body, answer


def test_a_header_that_is_not_a_number_is_400(running):
    answer = running.probe("up", headers={"X-Prometheus-Scrape-Timeout-Seconds": "soon"})
    assert answer.status == 400, answer
    assert answer.body == "X-Prometheus-Scrape-Timeout-Seconds must be a number of seconds > 0\n"


def test_sd_lists_every_alias_as_a_target_with_meta_labels(running, fleet, serving):
    answer = running.get("/sd")
    assert answer.status == 200, answer
    assert answer.headers["content-type"] == "application/json"
    groups = json.loads(answer.body)
    assert [g["targets"] for g in groups] == [["up"], ["down"], ["mute"]]
    assert groups[0]["labels"] == {
        "__meta_conn_alias": "up",
        "__meta_conn_address": serving.address,
        "__meta_conn_secure": "false",
        "__meta_conn_db_name": "default",
        "__meta_conn_profile": str(fleet),
    }


def test_metrics_counts_probes_failures_and_refusals(running):
    running.probe("up")
    running.probe("down")
    running.probe("nobody")
    found = running.get("/metrics").samples()
    assert found["conn_exporter_probes_total"] == 2
    assert found["conn_exporter_probe_failures_total"] == 1
    assert found["conn_exporter_probes_in_flight"] == 0
    assert found['conn_exporter_requests_refused_total{reason="unknown_alias"}'] == 1
    assert found["conn_exporter_profile_readable"] == 1
    assert found["conn_exporter_aliases"] == 3
    assert found["process_resident_memory_bytes"] > 0


def test_the_index_names_the_endpoints_and_anything_else_is_404(running):
    assert running.get("/").body.startswith("conn exporter: the profile's aliases")
    answer = running.get("/probe/../etc/passwd")
    assert answer.status == 404, answer


def test_an_alias_whose_secret_variable_is_unset_fails_its_own_probe_with_6(profile, serving):
    _profile(
        profile,
        up=f'address = "{serving.address}"',
        locked=f'address = "{serving.address}"\nuser = "u"\npassword_env = "UNSET_PW_VAR"',
    )
    with exporter(profile) as running:
        locked, up = running.probe("locked"), running.probe("up")
    assert locked.status == 200, locked
    assert (locked.samples()["probe_success"], locked.samples()["conn_probe_exit_code"]) == (0, 6)
    assert "password_env names $UNSET_PW_VAR, which is not set" in locked.body
    assert up.samples()["probe_success"] == 1


def test_an_unusable_table_is_a_target_that_fails_with_6(profile, serving):
    _profile(profile, up=f'address = "{serving.address}"', bad='address = "127.0.0.1:99999"')
    with exporter(profile) as running:
        targets = [g["targets"][0] for g in json.loads(running.get("/sd").body)]
        bad = running.probe("bad")
    assert targets == ["up", "bad"]
    assert bad.samples()["conn_probe_exit_code"] == 6, bad
    assert "port 99999 out of range" in bad.body


def test_what_a_server_says_is_escaped_in_labels_and_comments(profile, liar):
    liar.version = 'v9"} probe_success 1\n\x1b[2J'
    _profile(profile, liar=f'address = "{liar.address}"')
    with exporter(profile) as running:
        healthy = running.probe("liar")
        liar.healthy, liar.reasons = False, ["down\x1b]0;owned\x07 for good"]
        unhealthy = running.probe("liar")
    found = healthy.samples()  # the parser reads it: the format held
    assert found["probe_success"] == 1
    assert found['conn_server_info{version="v9"} probe_success 1 \\u001b[2J"}'] == 1
    # in the text: the quote escaped by the format, the ESC by conn (its backslash by the format)
    assert r'conn_server_info{version="v9\"} probe_success 1 \\u001b[2J"} 1.0' in healthy.body
    assert unhealthy.samples()["probe_success"] == 0
    assert unhealthy.body.endswith("# conn: unhealthy: down\\u001b]0;owned\\u0007 for good\n")
    for body in (healthy.body, unhealthy.body):
        assert "\x1b" not in body and "\x07" not in body


# the profile as it changes ------------------------------------------------------------


def test_sd_follows_the_profile_as_it_changes(running, fleet, cli, serving):
    cli("add", "later", "--address", serving.address)
    until(lambda: "later" in running.get("/sd").body)
    assert running.probe("later").samples()["probe_success"] == 1
    cli("remove", "down")
    until(lambda: '"down"' not in running.get("/sd").body)
    assert running.probe("down").status == 404


def test_an_unreadable_profile_is_reported_and_the_last_good_inventory_kept(running, fleet, cli):
    good = fleet.read_bytes()
    write_profile(fleet, CORRUPT)
    groups = until(lambda: _with_error(running.get("/sd").body))
    assert [g["targets"] for g in groups] == [["up"], ["down"], ["mute"]]
    assert "line 4" in groups[0]["labels"]["__meta_conn_profile_error"]
    answer = running.probe("up")
    assert answer.samples()["probe_success"] == 1  # still probed, from the last good
    assert answer.samples()["conn_profile_readable"] == 0
    assert running.get("/metrics").samples()["conn_exporter_profile_readable"] == 0
    write_profile(fleet, good)
    until(lambda: not _with_error(running.get("/sd").body))
    assert running.probe("up").samples()["conn_profile_readable"] == 1
    code, _, stderr = running.stop()
    assert code == 0, stderr
    lines = stderr.splitlines()
    assert lines[0].startswith(f"Warning: cannot read the profile: {fleet}")
    assert "line 4" in lines[0]
    assert lines[0].endswith("; serving the last good inventory (3 aliases)")
    assert lines[1] == "Warning: the profile is readable again: 3 aliases"
    assert len(lines) == 2


def _with_error(body: str) -> list | None:
    groups = json.loads(body)
    return groups if groups and "__meta_conn_profile_error" in groups[0]["labels"] else None


def test_a_profile_unreadable_at_start_is_exit_6(profile):
    write_profile(profile, CORRUPT)
    done = run_conn("exporter", "--listen", f"127.0.0.1:{servers.free_port()}")
    assert done.returncode == 6, done.stderr
    assert one_error_line(done.stderr).startswith(f"Error: {profile}")
    assert "line 4" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("listen", "message"),  # the error ends with
    [
        ("127.0.0.1", " (as 127.0.0.1:19115)"),
        ("127.0.0.1:0", " (as 127.0.0.1:19115)"),
        ("[::1:80", " (as 127.0.0.1:19115)"),
        ("unix:/tmp/x.sock", ": a unix socket is not served"),
    ],
)
def test_a_listen_address_that_cannot_be_used_is_exit_2(profile, listen, message):
    done = run_conn("exporter", "--listen", listen)
    assert done.returncode == 2, done.stderr
    assert one_error_line(done.stderr) == (
        f"Error: --listen '{listen}' is not HOST:PORT with a port 1-65535{message}\n"
    )


def test_a_port_in_use_is_exit_2_naming_it(running, profile):
    done = run_conn("exporter", "--listen", running.address)
    assert done.returncode == 2, done.stderr
    assert one_error_line(done.stderr) == (
        f"Error: cannot listen on {running.address}: Address already in use\n"
    )


# readiness: Milvus Lite with a loaded and a released collection ------------------------


@pytest.fixture(scope="module")
def collections(milvus_lite) -> dict[str, str]:
    from pymilvus import MilvusClient

    client = MilvusClient(uri=f"http://{milvus_lite.address}")
    suffix = uuid.uuid4().hex[:8]
    names = {"loaded": f"loaded_{suffix}", "released": f"released_{suffix}"}
    for name in names.values():
        client.create_collection(name, dimension=4)
    client.release_collection(names["released"])
    return names


@pytest.fixture
def lite_exporter(profile, milvus_lite, collections):
    _profile(profile, lite=f'address = "{milvus_lite.address}"')
    with exporter(profile) as running:
        yield running


def test_a_loaded_collection_with_loaded_1_succeeds(lite_exporter, collections):
    name = collections["loaded"]
    answer = lite_exporter.probe("lite", f"&collection={name}&loaded=1")
    found = answer.samples()
    assert found["probe_success"] == 1, answer
    assert found[f'conn_collection_loaded{{collection="{name}"}}'] == 1
    assert found['conn_server_info{version="milvus_lite-' + _lite_version() + '"}'] == 1


def _lite_version() -> str:
    from importlib.metadata import version

    return version("milvus-lite")


def test_a_released_collection_with_loaded_1_fails_with_4(lite_exporter, collections):
    loaded, released = collections["loaded"], collections["released"]
    answer = lite_exporter.probe("lite", f"&collection={loaded}&collection={released}&loaded=1")
    found = answer.samples()
    assert (found["probe_success"], found["conn_probe_exit_code"]) == (0, 4), answer
    assert found[f'conn_collection_loaded{{collection="{loaded}"}}'] == 1
    assert found[f'conn_collection_loaded{{collection="{released}"}}'] == 0
    assert f"collection '{released}' in database 'default' is not loaded" in answer.body


def test_a_released_collection_without_loaded_succeeds(lite_exporter, collections):
    answer = lite_exporter.probe("lite", f"&collection={collections['released']}")
    assert answer.samples()["probe_success"] == 1, answer


def test_a_missing_collection_fails_with_4(lite_exporter):
    answer = lite_exporter.probe("lite", "&collection=nope")
    assert answer.samples()["conn_probe_exit_code"] == 4, answer
    assert "collection 'nope' does not exist in database 'default'" in answer.body


def test_ready_1_checks_the_database(profile, milvus_lite):
    _profile(profile, nodb=f'address = "{milvus_lite.address}"\ndb_name = "no_such_db"')
    with exporter(profile) as running:
        plain, ready = running.probe("nodb"), running.probe("nodb", "&ready=1")
    assert plain.samples()["probe_success"] == 1, plain
    assert ready.samples()["conn_probe_exit_code"] == 4, ready
    assert "database 'no_such_db' does not exist" in ready.body


def test_loaded_without_a_collection_is_400(lite_exporter):
    answer = lite_exporter.probe("lite", "&loaded=1")
    assert answer.status == 400, answer
    assert answer.body == "loaded=1 needs collection=NAME (which collections must be loaded?)\n"


# TLS: the real Milvus 2.3.5 ------------------------------------------------------------


@pytest.mark.slow
def test_a_tls_alias_gives_the_certificate_expiry_as_blackbox_does(profile, milvus_tls, certs):
    from cryptography import x509

    ca = certs / "ca.pem"
    _profile(profile, tls=f'address = "{milvus_tls.address}"\nsecure = true\nca_pem_path = "{ca}"')
    with exporter(profile) as running:
        answer = running.probe("tls")
        labels = json.loads(running.get("/sd").body)[0]["labels"]
    found = answer.samples()
    assert found["probe_success"] == 1, answer
    assert found['conn_server_info{version="v2.3.5-lite"}'] == 1  # the milvus wheel's build
    certificate = x509.load_pem_x509_certificate((certs / "server.pem").read_bytes())
    expiry = (
        certificate.not_valid_after_utc
        if hasattr(certificate, "not_valid_after_utc")
        else (certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc))
    )
    assert found["probe_ssl_earliest_cert_expiry"] == expiry.timestamp()
    assert labels["__meta_conn_secure"] == "true"
