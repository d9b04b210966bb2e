"""Result files are written whole or not at all.

Each file is written to a temporary file in its own folder and moved over the target with
`os.replace` once complete: a reader (a resumed sweep, `mcrisk-collect`) sees the old file
or the new one, never a half-written one, whatever stops the writer (an error, Ctrl-C,
SIGTERM, a full disk).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def temp_for(path: str | Path) -> Path:
    """An empty temporary file next to `path`, ending in the same suffix.

    Same folder: `os.replace` is atomic only within one file system. Same suffix: writers
    that pick the format from the name (matplotlib's `savefig`) still pick the right one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                               suffix=".tmp" + path.suffix)
    os.close(fd)
    return Path(tmp)


def commit(tmp: str | Path, path: str | Path) -> Path:
    """Move a finished temporary file over `path` (flushed to disk first)."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    # mkstemp creates files readable by the owner only; results get the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return Path(path)


def discard(tmp: str | Path) -> None:
    """Remove a temporary file that will not be committed."""
    Path(tmp).unlink(missing_ok=True)


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on any exception
    (KeyboardInterrupt included) it is removed and `path` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
        >>> with replacing(target) as tmp:
        ...     _ = tmp.write_text("done")
        >>> target.read_text()
        'done'
    """
    tmp = temp_for(path)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path` atomically (a value that cannot be
    serialised leaves `path` untouched)."""
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
    return Path(path)
