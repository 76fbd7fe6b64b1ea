"""A module imported where it is first used rather than where it is named.

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
import types
from typing import Any

__all__ = ["LazyModule"]


class LazyModule(types.ModuleType):
    """Module ``name``, imported on its first attribute read."""

    def __getattr__(self, attr: str) -> Any:  # only for names not copied in yet
        module = importlib.import_module(self.__name__)
        self.__dict__.update(vars(module))
        return getattr(module, attr)
