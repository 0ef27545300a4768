"""Run a console script's entry point under cProfile once its module is imported, so the
profile shows what the command does rather than what importing costs.

usage: profile_main.py OUT.pstats SCRIPT [ARGS...]   (SCRIPT: a pip console script)
"""

import cProfile
import importlib
import re
import sys
from pathlib import Path

out, script, *args = sys.argv[1:]
found = re.search(r"^from (\S+) import (\w+)", Path(script).read_text(), re.MULTILINE)
if found is None:
    sys.exit(f"{script}: not a console script")
entry = getattr(importlib.import_module(found[1]), found[2])
sys.argv = [script, *args]
profiler = cProfile.Profile()
profiler.enable()
try:
    entry()
except SystemExit:
    pass
finally:
    profiler.disable()
    profiler.dump_stats(out)
