"""Write result tables to files atomically, never overwriting without being told to.

Each file is written to a temporary name in its target directory and renamed into place, so a
reader never sees half a file and an interrupted run leaves nothing behind. Every target is
checked before anything is written, so a refusal leaves no partial set either.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mailtrace.errors import InputError, UsageError


def write_parquet(tables: Mapping[Path, pa.Table], force: bool = False) -> None:
    """Write each table to its path as Parquet, atomically; existing paths need ``force``.

    >>> import tempfile, pyarrow as pa
    >>> d = Path(tempfile.mkdtemp())
    >>> write_parquet({d / "t.parquet": pa.table({"a": [1]})})
    >>> write_parquet({d / "t.parquet": pa.table({"a": [2]})})
    Traceback (most recent call last):
    ...
    mailtrace.errors.UsageError: t.parquet exists already (add --force to overwrite it)
    """
    for path in tables:
        if path.exists() and not force:
            raise UsageError(f"{path.name} exists already (add --force to overwrite it)")
        if not path.parent.is_dir():
            raise UsageError(f"{path.parent}: no such directory for the output")
    for path, table in tables.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        except OSError as exc:
            raise InputError(str(path), f"cannot write: {exc.strerror or exc}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
