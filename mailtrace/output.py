"""Write results to files atomically, never overwriting without being told to.

Each file is written to a temporary name in its target directory and renamed into place, so a
reader never sees half a file and an interrupted run leaves nothing behind. Every target is
checked before anything is written, so a refusal leaves no partial set either. Tables, charts
and the HTML report all go through :func:`atomic_file`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from mailtrace.errors import InputError, UsageError


def check_target(path: Path, force: bool = False, what: str = "the output") -> None:
    """Refuse an existing ``path`` unless ``force``, and a ``path`` whose directory is missing.

    >>> check_target(Path("/no/such/dir/x.png"), what="the chart")
    Traceback (most recent call last):
    ...
    mailtrace.errors.UsageError: /no/such/dir: no such directory for the chart
    """
    if path.exists() and not force:
        raise UsageError(f"{path.name} exists already (add --force to overwrite it)")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: no such directory for {what}")


@contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """A file object that becomes ``path`` only when the block ends without an error.

    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_file(d / "r.txt", "w") as fh:
    ...     _ = fh.write("done")
    >>> (d / "r.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('done', ['r.txt'])
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
        # mkstemp makes the file private; a result gets the mode the user's umask gives.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(str(path), f"cannot write: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(tables: Mapping[Path, pa.Table], force: bool = False) -> None:
    """Write each table to its path as Parquet, atomically; existing paths need ``force``.

    >>> import pyarrow as pa
    >>> d = Path(tempfile.mkdtemp())
    >>> write_parquet({d / "t.parquet": pa.table({"a": [1]})})
    >>> write_parquet({d / "t.parquet": pa.table({"a": [2]})})
    Traceback (most recent call last):
    ...
    mailtrace.errors.UsageError: t.parquet exists already (add --force to overwrite it)
    """
    for path in tables:
        check_target(path, force)
    for path, table in tables.items():
        with atomic_file(path) as fh:
            pq.write_table(table, fh)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
