"""Shared pytest configuration: the golden-file switch and paths to the real test data."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/ files from the current output")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fuzzing and property tests are ``slow`` too: ``-m "not kernel and not slow"`` is the inner loop.

    The README's test command and CI run everything; the inner loop keeps the example-based
    tests, which cover every behaviour once, and leaves the thousands of generated cases out.
    """
    fuzz = Path(__file__).parent / "fuzz"
    for item in items:
        if item.get_closest_marker("property") is not None or fuzz in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
