"""The fuzz scripts are programs, not test modules: keep pytest's doctest collection out of them.

``fuzz.py`` instruments crashplan's bytecode for atheris when it is imported, which must not
happen inside a test session.
"""

collect_ignore = ["fuzz.py", "long_run.py", "make_corpus.py"]
