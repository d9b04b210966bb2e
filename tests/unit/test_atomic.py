"""Result files are replaced whole or not at all."""

from __future__ import annotations

import json
import os

import pytest

from mcrisk.atomic import replacing, write_json, write_text


def test_failure_mid_write_leaves_the_old_file_intact(tmp_path):
    target = tmp_path / "results.json"
    write_json(target, {"book": 1.0})
    # json.dump streams: the big list reaches the file before the object that cannot be
    # serialised stops it, so a direct write would leave a truncated results.json.
    with pytest.raises(TypeError):
        write_json(target, {"a": list(range(100_000)), "z": object()})
    assert json.loads(target.read_text()) == {"book": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_interrupt_mid_write_leaves_the_old_file_intact(tmp_path):
    target = tmp_path / "report.md"
    write_text(target, "old report")
    with pytest.raises(KeyboardInterrupt), replacing(target) as tmp:
        tmp.write_text("half of a new rep")
        raise KeyboardInterrupt
    assert target.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_replaced_file_has_the_new_content_and_usual_permissions(tmp_path):
    target = tmp_path / "plot.png"
    with replacing(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"  # savefig picks by suffix
        tmp.write_bytes(b"png")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"png"
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]
