"""The README's Python example runs as it is written, on a fresh SQLite log."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_library_example_runs(tmp_path: Path) -> None:
    """Its blocks run in an empty folder with the real clock, and print what it says."""
    [block] = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "open"
    assert (tmp_path / "alliance.db").is_file()
