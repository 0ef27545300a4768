"""Real credential stores for the tests: a GNOME Keyring on a private D-Bus session bus
that the test starts (`dbus-run-session`, `gnome-keyring-daemon --unlock`), and the
settings that point conn at keyrings.alt's file backend or at no store at all."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from .helpers import require_program

SESSION = Path(__file__).with_name("keyring_session.py")  # run in dbus-run-session
FILE_BACKEND = "keyrings.alt.file.PlaintextKeyring"  # keyrings.alt: any machine, a file


class GnomeKeyring:
    """A private session bus with an unlocked GNOME Keyring on it (with `silent`, a Secret
    Service that never answers); conn reaches it through `address`."""

    def __init__(self, base: Path, *, silent: bool = False) -> None:
        runner = require_program("dbus-run-session", "dbus-daemon")
        require_program("gnome-keyring-daemon", "gnome-keyring")
        runtime = base / "run"
        runtime.mkdir(parents=True, mode=0o700)
        env = {
            **os.environ,
            "HOME": str(base / "home"),
            "XDG_DATA_HOME": str(base / "data"),
            "XDG_CONFIG_HOME": str(base / "config"),
            "XDG_RUNTIME_DIR": str(runtime),
        }
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.process = subprocess.Popen(
            [runner, "--", sys.executable, str(SESSION), *(["silent"] if silent else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.address = self.process.stdout.readline().strip()
        if not self.address.startswith("unix:"):
            self.stop()
            raise RuntimeError("the private GNOME Keyring session did not start")

    def collection(self, bus: object) -> object:
        import secretstorage

        return secretstorage.get_default_collection(bus)

    def items(self) -> list[tuple[dict[str, str], str]]:
        """Every item in the login keyring: its attributes (less the `xdg:schema` GNOME
        Keyring adds to some) and its secret."""
        with self.bus() as bus:
            return [
                ({k: v for k, v in item.get_attributes().items() if k != "xdg:schema"},
                 item.get_secret().decode())
                for item in self.collection(bus).get_all_items()
            ]  # fmt: skip

    def delete_all(self) -> None:
        with self.bus() as bus:
            for item in self.collection(bus).get_all_items():
                item.delete()

    def lock(self) -> None:
        """Lock the login keyring (unlocking it needs a prompt, which no test has)."""
        with self.bus() as bus:
            self.collection(bus).lock()

    def bus(self) -> closing:
        from jeepney.io.blocking import open_dbus_connection
        from secretstorage.util import add_match_rules

        connection = open_dbus_connection(self.address)
        add_match_rules(connection)
        return closing(connection)

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
