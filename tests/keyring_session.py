"""A GNOME Keyring for tests and benchmarks: run it inside `dbus-run-session`.

It starts `gnome-keyring-daemon`, unlocked (its login keyring made with a fixed
password), waits until the daemon owns the Secret Service's name and the login keyring
is open, prints the session bus's address, and stops the daemon when its standard input
closes. Run as a program (tests/keyrings.py, benchmarks/bench_servers.py), never imported.

`keyring_session.py silent` instead takes the Secret Service's name itself and never
answers a call: a store that hangs, as a locked one waiting on a prompt would.
"""

import os
import subprocess
import sys
import time
from contextlib import closing

import secretstorage
from jeepney import message_bus
from jeepney.io.blocking import Proxy

LOGIN_PASSWORD = b"keyring-test-login"


def unlocked_login_keyring(bus: object) -> bool:
    if not Proxy(message_bus, bus).NameHasOwner("org.freedesktop.secrets")[0]:
        return False
    try:
        return not secretstorage.Collection(bus).is_locked()  # the default one: "login"
    except secretstorage.exceptions.ItemNotFoundException:
        return False


def silent() -> None:
    with closing(secretstorage.dbus_init()) as bus:
        Proxy(message_bus, bus).RequestName("org.freedesktop.secrets")
        print(os.environ["DBUS_SESSION_BUS_ADDRESS"], flush=True)
        sys.stdin.read()


def main() -> None:
    if sys.argv[1:] == ["silent"]:
        silent()
        return
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert daemon.stdin is not None
    daemon.stdin.write(LOGIN_PASSWORD)
    daemon.stdin.close()
    deadline = time.monotonic() + 30
    with closing(secretstorage.dbus_init()) as bus:
        while not unlocked_login_keyring(bus):
            if time.monotonic() > deadline or daemon.poll() is not None:
                daemon.kill()
                sys.exit("gnome-keyring-daemon did not start")
            time.sleep(0.05)
    print(os.environ["DBUS_SESSION_BUS_ADDRESS"], flush=True)
    sys.stdin.read()
    daemon.terminate()
    daemon.wait(10)


if __name__ == "__main__":
    main()
