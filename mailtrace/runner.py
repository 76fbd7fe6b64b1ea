"""How a command ends: exit codes, every known error as one line, and the quick exit.

The CLI (:mod:`mailtrace.cli`) runs its commands through these, and so does a report started
by the console script before typer is imported (:mod:`mailtrace.entry`): both end alike.

>>> guarded(lambda: EXIT_PARTIAL), guarded(lambda: None)
(3, 0)
>>> from mailtrace.errors import UsageError
>>> def bad() -> int:
...     raise UsageError("--errors must be raise or skip")
>>> guarded(bad)  # and on stderr: mailtrace: --errors must be raise or skip
2
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import NoReturn

# mailtrace does no linear algebra: without this, numpy's OpenBLAS starts a thread per core at
# import (0.07 s of every command's start) and keeps them spinning. The user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__all__ = [
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "finish",
    "guarded",
    "hold_to_the_end",
    "quiet_collector",
    "to_the_end",
]

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3


def guarded(command: Callable[[], int | None]) -> int:
    """Run ``command``; its exit code (None: 0), or for a known error the code after one line
    on stderr: usage 2, input or data 1, an interrupt 130, and 1 for what the system refused
    (output to a full disk, say). A reader that went away (a closed pipe) is not an error: 0."""
    from mailtrace.errors import MailtraceError, UsageError

    try:
        return command() or EXIT_OK
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except MailtraceError as exc:
        _error(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # the library turns unreadable inputs into MailtraceError
        _error(str(exc))
        return EXIT_INPUT


def _error(message: str) -> None:
    from mailtrace import render

    render.error(message)


def finish(code: object) -> NoReturn:
    """End the process with ``code`` (an int; other values are printed, then 1) at once.

    A report holds a few hundred MB of Arrow tables; tearing them and every module down at
    interpreter exit took 0.2 s after the last line was printed. Every resource a command opens
    is closed by then (files and pools by their context managers), so the process flushes its
    output and leaves.
    """
    if code is not None and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away, or the disk is full: nothing more can be said
        pass
    os._exit(code or 0)


#: What a console command's process holds until :func:`finish`, under "objects" once
#: :func:`hold_to_the_end` was called.
_HELD: dict[str, list[object]] = {}


def hold_to_the_end() -> None:
    """Let :func:`to_the_end` hold objects until :func:`finish` ends this process: called by
    the console entry points alone, whose process ends there (a library caller's objects are
    freed as usual)."""
    _HELD.setdefault("objects", [])


def to_the_end(*objects: object) -> None:
    """Keep ``objects`` alive until the process ends, where :func:`hold_to_the_end` was called.

    A report's events are some 900 mappings of the compiled parser's column buffers. Freeing
    them when the command returned cost 887 munmap calls, each a TLB flush on both cores, in
    the 30 ms between the report's last line and the process's exit; ``os._exit`` hands the
    memory back at once.

    >>> to_the_end([1, 2])  # held only in a console process
    """
    held = _HELD.get("objects")
    if held is not None:
        held.extend(objects)


def quiet_collector() -> None:
    """Turn the cyclic garbage collector off for a command's process.

    It found nothing to free but spent 34-45 ms of a 1,000,000-line report walking the objects
    of the imports and of each section's lists (93 collections). With it off, 967 unreachable
    objects were left at the end of that report and 2,130 after ``mailtrace logs`` of
    10,000,000 lines: nothing that grows.
    """
    gc.disable()
