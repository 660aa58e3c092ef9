"""crashplan: size, place and explain the kdump ``crashkernel=`` reservation.

The library API lives in the submodules (``crashplan.kernel.syntax`` for the grammar and the
kernel's decision); this package imports nothing heavy so that ``crashplan --help`` and shell
completion stay fast.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # importlib.metadata costs several milliseconds: read the version only when asked.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("crashplan")
        except PackageNotFoundError:
            return "0+unknown"
    raise AttributeError(name)
