"""Write the shell completion scripts of `conn` into completions/ (`make completions`)."""

from __future__ import annotations

import sys
from pathlib import Path

from typer._completion_shared import get_completion_script

from milvus_conn.cli import COMPLETE_VAR

SHELLS = {"bash": "conn.bash", "zsh": "_conn", "fish": "conn.fish", "powershell": "conn.ps1"}


def scripts() -> dict[str, str]:
    """File name -> script text, as Typer generates them for the `conn` program."""
    return {
        name: get_completion_script(prog_name="conn", complete_var=COMPLETE_VAR, shell=shell) + "\n"
        for shell, name in SHELLS.items()
    }


def main(out: Path) -> None:
    out.mkdir(exist_ok=True)
    for name, text in scripts().items():
        (out / name).write_text(text)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "completions")
