"""pytest settings for the notebooks, which run under nbval (see pyproject.toml's addopts).

The sanitize file is given relative to the repository root in addopts; this resolves it
when pytest is started from another directory (``cd notebooks && python -m pytest``).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    path = getattr(config.option, "nbval_sanitize_with", None)
    if path and not Path(path).exists() and (config.rootpath / path).exists():
        config.option.nbval_sanitize_with = str(config.rootpath / path)
