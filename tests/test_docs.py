"""The documentation site builds without a warning (``mkdocs build --strict``).

The examples in the pages run as doctests already (``--doctest-glob=*.md``); this test
adds the site itself: broken links, unknown pages, docstrings mkdocstrings cannot parse.
Skipped when MkDocs is not installed (it is in the ``dev`` extra), a failure in CI.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


class TestSite:
    def test_builds_strictly(self, tmp_path: Path) -> None:
        """`mkdocs build --strict` succeeds: no warning from pages, links or docstrings."""
        modules = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")
        missing = [name for name in modules if importlib.util.find_spec(name) is None]
        if missing:
            reason = f"not installed: {', '.join(missing)} (pip install -e '.[dev]')"
            if _in_ci():
                pytest.fail(f"in CI the documentation must build: {reason}")
            pytest.skip(reason)
        result = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
            check=False,
        )
        assert result.returncode == 0, result.stderr[-5000:]
        assert (tmp_path / "index.html").is_file()
        assert (tmp_path / "reference" / "alliance" / "index.html").is_file()
