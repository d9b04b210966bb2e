"""The wheel's package list names every package of the source tree: a package left out
installs fine in editable mode and is missing from `pip install .` (CI's fresh venv)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "mcrisk").rglob("__init__.py")
             if "conf" not in p.parent.relative_to(ROOT).parts}
    assert found - listed == set(), sorted(found - listed)
