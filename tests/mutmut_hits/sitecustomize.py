"""Imported by every Python process a test starts during a mutation run's first pass,
while mutmut records which test reaches which function (tests/conftest.py puts this
folder on their PYTHONPATH then, and only then). mutmut records the functions a process
reaches in that process's memory: this writes them, when the process exits, to the file
$MILVUS_CONN_MUTANT_HITS names, and conftest.py credits them to the test that started
the process. So a test that runs `conn` as a shell does is chosen for the mutants it
reaches, as an in-process test is."""

import atexit
import os

_HITS = os.environ.get("MILVUS_CONN_MUTANT_HITS")
if _HITS:
    from mutmut.configuration import config
    from mutmut.state import state

    _here = os.getcwd()
    os.chdir(os.environ["MILVUS_CONN_MUTANT_ROOT"])  # mutmut reads its settings from there
    try:
        config()
    finally:
        os.chdir(_here)

    @atexit.register
    def _write_hits() -> None:
        with open(_HITS, "a", encoding="utf-8") as hits:
            hits.write("".join(f"{name}\n" for name in state()._stats))
