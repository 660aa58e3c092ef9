"""``python -m crashplan.profiles compile > profiles/compiled.json``: regenerate the compiled index."""

import sys

from crashplan.profiles import compile_builtins

if sys.argv[1:] != ["compile"]:
    raise SystemExit("usage: python -m crashplan.profiles compile > profiles/compiled.json")
sys.stdout.write(compile_builtins())
