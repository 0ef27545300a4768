"""Commands about conn itself: version, completion, schema. No profile is read."""

import sys
from typing import Annotated

import typer

from ..completion import SHELLS
from ..completion import script as completion_script
from .options import Json
from .output import Json as JsonItem
from .output import Outcome, Text


def version(ctx: typer.Context, as_json: Json = False) -> Outcome:
    """Print the versions of conn, Python, grpcio, typer and pymilvus (as conn --version)."""
    return versions(as_json=as_json)


def versions(*, as_json: bool) -> Outcome:
    """Versions from the installed packages' metadata: nothing is imported for them."""
    from .. import about

    found = about.versions()
    return Outcome([JsonItem(found) if as_json else Text(about.text(found))])


def completion(
    ctx: typer.Context,
    shell: Annotated[
        str,
        typer.Argument(
            metavar="SHELL",
            help="bash, zsh, fish or powershell.",
            show_default=False,
            autocompletion=lambda incomplete: [s for s in SHELLS if s.startswith(incomplete)],
        ),
    ],
) -> Outcome:
    """Print the completion script for SHELL, e.g.
    conn completion fish > ~/.config/fish/completions/conn.fish"""
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}", param_hint="SHELL")
    sys.stdout.write(completion_script(shell))  # as it is: a script is not escaped
    return Outcome()


def schema(ctx: typer.Context) -> Outcome:
    """Print the profile's JSON Schema (draft-04) for editors: see #:schema in the README."""
    import json

    from ..schema import profile_schema

    return Outcome([Text(json.dumps(profile_schema(), indent=2))])
