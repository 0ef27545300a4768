"""Write the shell completion scripts of `conn` (`make completions`).

The package carries them (src/milvus_conn/completions/, printed by `conn completion
SHELL`); completions/ at the top holds the same files for a checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer._completion_shared import get_completion_script

from milvus_conn.cli import COMPLETE_VAR
from milvus_conn.completion import SHELLS

ROOT = Path(__file__).parent.parent
TARGETS = (ROOT / "src" / "milvus_conn" / "completions", ROOT / "completions")


def scripts() -> dict[str, str]:
    """File name -> script text, as Typer generates them for the `conn` program."""
    return {
        name: get_completion_script(prog_name="conn", complete_var=COMPLETE_VAR, shell=shell) + "\n"
        for shell, name in SHELLS.items()
    }


def main(targets: tuple[Path, ...]) -> None:
    for out in targets:
        out.mkdir(exist_ok=True)
        for name, text in scripts().items():
            (out / name).write_text(text)
            print(f"wrote {out / name}")


if __name__ == "__main__":
    main(tuple(Path(arg) for arg in sys.argv[1:]) or TARGETS)
