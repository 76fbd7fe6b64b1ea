"""A module imported, or a pattern compiled, where it is first used rather than where it is named.

``mailtrace report`` names pyarrow.compute at the top of the modules it imports before the parse
starts, but first calls it after the parse, while the import (0.05 s, most of it building the
compute functions' docstrings) could have run beside the parse, in the thread that preloads
what the report needs (:func:`mailtrace.logs.batch.preload`). A :class:`LazyModule` stands in
for the name until an attribute is read; then the module is imported (thread-safely, by the
import system) and its namespace copied in, so later lookups are plain attribute reads.

>>> json = LazyModule("json")
>>> json.dumps([1])
'[1]'
>>> "loads" in vars(json)
True
"""

from __future__ import annotations

import importlib
import re
import types
from typing import Any, cast

__all__ = ["LazyModule", "LazyPattern", "lazy_pattern"]


class LazyModule(types.ModuleType):
    """Module ``name``, imported on its first attribute read."""

    def __getattr__(self, attr: str) -> Any:  # only for names not copied in yet
        module = importlib.import_module(self.__name__)
        self.__dict__.update(vars(module))
        return getattr(module, attr)


class LazyPattern:
    """A regular expression compiled on its first use; then its methods and attributes are
    copied onto this object, so later uses cost what the compiled pattern's do."""

    _COPIED = (
        *("match", "fullmatch", "search", "finditer", "findall", "sub", "split"),
        *("groupindex", "groups", "pattern", "flags"),
    )

    def __init__(self, source: str, flags: int) -> None:
        self._source = source
        self._flags = flags

    def __getattr__(self, name: str) -> Any:  # only until the pattern is compiled
        compiled = re.compile(self._source, self._flags)
        for attr in self._COPIED:
            setattr(self, attr, getattr(compiled, attr))
        return getattr(compiled, name)


def lazy_pattern(source: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(source, flags)``, done at the first use of the result.

    Why: mailtrace.logs.postfix compiles some fifty patterns for the lines the compiled parser
    hands back; importing it cost 0.02 s, holding the GIL, in the worker that met the first
    such line (the first line of a log, often), though a log of a million lines may use two of
    them.

    >>> rx = lazy_pattern(r"(?P<n>\\d+)")
    >>> rx.match("42")["n"], rx.groupindex["n"]
    ('42', 1)
    """
    return cast("re.Pattern[str]", LazyPattern(source, flags))
