"""The library answers as pymilvus does: a hypothesis state machine runs the same random
sequences of calls against `milvus_conn.Connections(profile=tmp)` and pymilvus 3.0.2's
`connections` (a fresh one per run), over live servers (Milvus Lite, a grpc.health.v1
server, a refused port), and compares return values and exception classes after every
call: add_connection, connect with every address form, disconnect, remove_connection,
has_connection, get_connection_addr, list_connections and get_connection (None or not;
pymilvus 3 has no get_connection: its list_connections' handle stands for it).

The deliberate differences are listed in DELIBERATE, each with its reason, and nowhere
else: where one applies, the step checks that it is exactly that difference, then brings
pymilvus's registry back in line with conn's so that the sequence goes on comparing.

The suite runs the same 300 sequences every time (derandomized: a new difference is a
change's, never the luck of a run); PARITY_RUNS=N runs N random ones (a hunt; hunts of
2,000 found nothing past the differences above). NOSHRINK=1 reports a
difference without shrinking it first (shrinking a stateful failure can take minutes)."""

from __future__ import annotations

import itertools
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from milvus_conn import ConnectionConfigException, Connections

from .servers import refused_address

pymilvus_connections = pytest.importorskip("pymilvus.orm.connections")
# pymilvus 3 deprecates every call of its `connections`: the point here, not news.
pytestmark = pytest.mark.filterwarnings("ignore:.*ORM-style PyMilvus API")

# Each deliberate difference: (name, reason). The steps below refer to them by name.
DELIBERATE = {
    "connect returns the handle": (
        "connect() returns the live Connection (pymilvus: None), so that a caller can "
        "probe it; code written for pymilvus ignores the value."
    ),
    "failed connect keeps the config": (
        "A failed connect leaves the alias's stored config in place and the alias not "
        "connected; pymilvus forgets the alias altogether. Aliases are configuration kept "
        "in a profile, and a server that is down for a minute must not erase one."
    ),
    "any grpc.health.v1 server": (
        "conn connects to any server that answers grpc.health.v1 (its health core's "
        "promise); pymilvus needs Milvus's own Connect call, and fails on such a server."
    ),
    "more specific exceptions": (
        "A failed probe raises a subclass of pymilvus's MilvusException that says why "
        "(ServerUnreachableException, ServerUnhealthyException, AuthenticationException), "
        "so `except MilvusException` catches both."
    ),
    "built-in default stays": (
        "conn's built-in `default` alias exists whenever the profile stores none, in every "
        "process; remove_connection('default') cannot delete what is not stored, where "
        "pymilvus drops it from its in-memory registry."
    ),
    "connect does not rewrite a stored alias": (
        "connect(alias, address=..., user=...) of an alias the profile stores (or the "
        "built-in default) connects with them without rewriting the profile, which may be "
        "a team's or read-only (conn add --force changes it); after disconnect, "
        "get_connection_addr shows the stored config again, where pymilvus keeps the last "
        "connect's address, user and db_name."
    ),
    "the live connection's record": (
        "get_connection_addr of a connected alias is the config it is connected with; an "
        "add_connection (same address) meanwhile changes the stored alias, for the next "
        "connect. pymilvus overwrites its record, which then no longer describes the live "
        "connection (another user, no db_name)."
    ),
    "a stored user stays": (
        "connect(alias) without a user connects as the user the alias stores (conn add "
        "--user ci, then conn connect); pymilvus replaces it with connect's user=''."
    ),
    "a database in the URI's path": (
        "connect(uri='http://host:port/db1') uses database db1 (and add_connection stores "
        "it), as MilvusClient and conn's profile read a URI; connections.connect's default "
        "db_name='default' ignores the path."
    ),
    "pymilvus cannot reconnect": (
        "pymilvus 3.0.2's connect(alias), for an alias it has connected before, raises "
        "TypeError (the config it kept holds db_name, which it then passes twice); conn "
        "connects. pymilvus's bug, not a behaviour to copy."
    ),
    "refused before it is stored": (
        "add_connection refuses a URI whose scheme connect would refuse (ftp://...), as "
        "it refuses any other config that cannot connect; pymilvus stores it and refuses "
        "only at connect."
    ),
    "persistence": (
        "conn keeps aliases in the profile and the connected state in the user's state "
        "file, shared by processes; pymilvus keeps both in one process's memory. (One "
        "Connections per run here: within a process the two agree.)"
    ),
}

# What pymilvus 3.0.2 raises on connect(alias) of an alias it connected before.
REUSED_DB_NAME = "got multiple values for keyword argument 'db_name'"
ALIASES = st.sampled_from(["default", "a", "b"])
USERS = st.sampled_from(["", "alice"])
_profiles = itertools.count()


def address_forms(address: str) -> list[dict[str, Any]]:
    """Every way pymilvus accepts to name `address` (host:port)."""
    host, port = address.rsplit(":", 1)
    return [
        {"address": address},
        {"uri": f"http://{address}"},
        {"uri": f"tcp://{address}"},
        {"uri": f"grpc://{address}"},
        {"uri": f"http://{address}/db1"},
        {"uri": f"http://localhost:{port}"},
        {"host": host, "port": port},
        {"host": host, "port": int(port)},
        {"host": "localhost", "port": port},
    ]


BAD_FORMS = [
    {"address": "no-port"},
    {"uri": "ftp://x:1"},
    {"host": "127.0.0.1", "port": "99999"},
    {"host": 5, "port": "19530"},
    {"port": "not-a-port"},
]


def without_path_db(config: dict[str, Any]) -> dict[str, Any]:
    """ "a database in the URI's path": conn's db1 from `http://host:port/db1` and
    pymilvus's "default" for the same connect are left out of comparisons."""
    if config.get("db_name") in ("db1", "default"):
        return {k: v for k, v in config.items() if k != "db_name"}
    return config


def outcome(call: Any) -> tuple[str, Any]:
    """("ok", value) or ("raised", the exception)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymilvus 3 deprecates every call here
            return "ok", call()
    except Exception as exc:  # the class is what is compared
        return "raised", exc


def same_exception(ours: BaseException, theirs: BaseException) -> bool:
    """conn's exception is pymilvus's class by name, or a subclass of it."""
    return type(theirs).__name__ in {cls.__name__ for cls in type(ours).__mro__}


class Parity(RuleBasedStateMachine):
    lite: str = ""  # set by the test: Milvus Lite's address
    health: str = ""  # a grpc.health.v1 server's
    directory: Path = Path()

    def __init__(self) -> None:
        super().__init__()
        self.ours = Connections(profile=self.directory / f"p{next(_profiles)}.toml")
        pymilvus_connections.Connections.instance = None  # a fresh singleton per run
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.theirs = pymilvus_connections.Connections()
        self.refused = refused_address()
        self.reordered = False

    def teardown(self) -> None:
        self.ours.reset()
        for alias in list(self.theirs._alias_handlers):
            outcome(lambda a=alias: self.theirs.disconnect(a))

    # the calls ---------------------------------------------------------------------------

    def forms(self) -> st.SearchStrategy[dict[str, Any]]:
        servers = [self.lite, self.lite, self.lite, self.health, self.refused]  # Lite most
        good = [form for server in servers for form in address_forms(server)]
        return st.sampled_from(good + BAD_FORMS)

    @rule(data=st.data(), alias=ALIASES, user=USERS)
    def add_connection(self, data: st.DataObject, alias: str, user: str) -> None:
        config = {**data.draw(self.forms(), label="config"), "user": user}
        if str(config.get("uri", "")).startswith("ftp:"):  # "refused before it is stored"
            with pytest.raises(ConnectionConfigException, match="Illegal uri"):
                self.ours.add_connection(**{alias: dict(config)})
            outcome(lambda: self.theirs.add_connection(**{alias: dict(config)}))
            self.resync(alias)
            return
        self.same(lambda c: c.add_connection(**{alias: dict(config)}))
        self.adopt_record(alias)  # "the live connection's record"

    @rule(data=st.data(), alias=ALIASES, user=USERS, given=st.booleans())
    def connect(self, data: st.DataObject, alias: str, user: str, given: bool) -> None:
        form = data.draw(self.forms(), label="form") if given else {}
        ours = outcome(lambda: self.ours.connect(alias, user=user, **form))
        theirs = outcome(lambda: self.theirs.connect(alias, user=user, **form))
        event(f"connect: conn {ours[0]}, pymilvus {theirs[0]}")
        if theirs[0] == "raised" and REUSED_DB_NAME in str(theirs[1]):
            self.resync(alias)  # "pymilvus cannot reconnect": had it, it would hold
            self.adopt_record(alias)  # the config conn connected with
        elif ours[0] == theirs[0] == "ok":
            assert theirs[1] is None and ours[1] is not None  # "connect returns the handle"
            kept_user = self.ours.get_connection_addr(alias)["user"]
            if not user and kept_user:  # "a stored user stays": pymilvus's record follows
                assert outcome(lambda: self.theirs.get_connection_addr(alias))[1]["user"] == ""
                self.theirs._alias_config[alias]["user"] = kept_user
        elif ours[0] == theirs[0] == "raised":
            assert same_exception(ours[1], theirs[1]), (ours, theirs)  # "more specific ..."
            self.resync(alias)  # "failed connect keeps the config"
        elif ours[0] == "ok" and self.answers_health_only(alias):
            self.resync(alias)  # "any grpc.health.v1 server"
        else:
            pytest.fail(f"connect({alias!r}, {form}) differs: conn {ours}, pymilvus {theirs}")

    @rule(alias=ALIASES)
    def disconnect(self, alias: str) -> None:
        self.same(lambda c: c.disconnect(alias))
        self.resync(alias)  # "connect does not rewrite a stored alias"

    @rule(alias=ALIASES)
    def remove_connection(self, alias: str) -> None:
        self.same(lambda c: c.remove_connection(alias))
        if alias == "default":
            self.resync(alias)  # "built-in default stays": pymilvus's comes back too

    @rule(alias=ALIASES)
    def has_connection(self, alias: str) -> None:
        self.same(lambda c: c.has_connection(alias))

    @rule(alias=ALIASES)
    def get_connection_addr(self, alias: str) -> None:
        self.same(lambda c: without_path_db(c.get_connection_addr(alias)))

    @rule()
    def list_connections(self) -> None:
        ours, theirs = self.listed(self.ours), self.listed(self.theirs)
        if self.reordered:  # a resync re-added an alias to pymilvus's registry: at the end
            ours, theirs = sorted(ours), sorted(theirs)
        assert ours == theirs

    @rule(alias=ALIASES)
    def get_connection(self, alias: str) -> None:
        theirs = dict(self.listed(self.theirs)).get(alias, False)
        assert (self.ours.get_connection(alias) is not None) == theirs

    # comparing ---------------------------------------------------------------------------

    def same(self, call: Any) -> None:
        ours, theirs = outcome(lambda: call(self.ours)), outcome(lambda: call(self.theirs))
        if ours[0] == theirs[0] == "raised":
            assert same_exception(ours[1], theirs[1]), (ours, theirs)
        else:
            assert ours == theirs, (ours, theirs)

    @staticmethod
    def listed(registry: Any) -> list[tuple[str, bool]]:
        """list_connections(), each handle as "is there one"."""
        return [
            (alias, handle is not None) for alias, handle in outcome(registry.list_connections)[1]
        ]

    def answers_health_only(self, alias: str) -> bool:
        """Whether conn's connect went to the grpc.health.v1 server."""
        address = self.ours.get_connection_addr(alias).get("address", "")
        return address.rsplit(":", 1)[-1] == self.health.rsplit(":", 1)[-1]

    def adopt_record(self, alias: str) -> None:
        """pymilvus's record of a live connection made conn's (its private registry: no
        public call sets it without reconnecting)."""
        if self.theirs.has_connection(alias):
            self.theirs._alias_config[alias] = self.ours.get_connection_addr(alias)

    def resync(self, alias: str) -> None:
        """After a step where a deliberate difference applies: conn's connection closed if
        pymilvus has none, and pymilvus's registry holding `alias` as conn's does (its
        address and user, or nothing) where pymilvus is not connected."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not self.theirs.has_connection(alias):
                self.ours.disconnect(alias)
            if self.theirs.has_connection(alias):
                return
            kept = without_path_db(self.ours.get_connection_addr(alias))
            if not kept:
                self.theirs.remove_connection(alias)
            elif without_path_db(self.theirs.get_connection_addr(alias)) != kept:
                config = {"address": kept["address"], "user": kept.get("user", "")}
                self.reordered |= alias not in dict(self.listed(self.theirs))
                self.theirs.add_connection(**{alias: config})


RUNS = settings(
    max_examples=int(os.environ.get("PARITY_RUNS", "300")),
    derandomize=not os.environ.get("PARITY_RUNS"),  # the suite's runs: the same each time
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[p for p in Phase if p != Phase.shrink or not os.environ.get("NOSHRINK")],
)


def test_the_library_answers_as_pymilvus_does(milvus_lite, serving, tmp_path):
    Parity.lite, Parity.health, Parity.directory = milvus_lite.address, serving.address, tmp_path
    run_state_machine_as_test(Parity, settings=RUNS)


# what the state machine found, kept as examples ---------------------------------------------


def test_get_connection_addr_after_a_uri_connect_has_pymilvus_keys(registry, serving):
    registry.connect("u", uri=f"http://{serving.address}")
    assert registry.get_connection_addr("u") == {
        "address": serving.address,
        "user": "",
        "db_name": "default",
    }  # no `uri`, no `secure: False`: pymilvus keeps what the uri became


def test_a_stored_default_alias_is_still_listed_first(registry):
    registry.add_connection(b={"address": "127.0.0.1:1"})
    registry.add_connection(default={"address": "127.0.0.1:2"})
    assert [alias for alias, _ in registry.list_connections()] == ["default", "b"]


def test_connect_without_an_address_reconnects_where_the_alias_is_connected(registry, serving):
    """pymilvus reuses the config it connected with; conn did connect the stored address
    (here: refused), silently re-addressing a connected alias."""
    registry.add_connection(a={"address": refused_address()})
    registry.connect("a", address=serving.address)
    registry.connect("a")
    assert registry.get_connection_addr("a")["address"] == serving.address
    assert registry.has_connection("a")


def test_get_connection_addr_names_the_user_connected_as(registry, serving):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h", user="alice")
    assert registry.get_connection_addr("h")["user"] == "alice"
    registry.disconnect("h")
    assert registry.get_connection_addr("h")["user"] == ""  # the stored alias has none
