"""Keep pyarrow from importing pandas or NumPy into a process that never hands it their objects.

**pandas.** pyarrow imports pandas, if it is installed, the first time most of its Python
constructors run (``pa.array``, ``pa.scalar``, and every ``pyarrow.compute`` call given a Python
value), only to ask whether the value is a pandas object. That import costs 0.25 CPU-s, and on a
two-core machine parsing a large log with both cores it is a quarter of a second added to
``mailtrace report`` for nothing: the text report is built from Arrow and NumPy alone.

pyarrow asks for pandas in two ways: to *look* (is this a Series?), where a failed import
means "no pandas here" and is not retried, and to *use* it (``Table.to_pandas``,
``Table.from_pandas``), where a failed import is retried. :func:`defer_pandas` makes the first
look fail on purpose, so the looks stop importing pandas while every use still works: the first
``to_pandas`` imports pandas as usual.

The cost, and why only the CLI calls this: after :func:`defer_pandas` and before the first
use, pyarrow treats a pandas Series handed to ``pa.array`` as a plain sequence (correct, but
slower). A command whose code passes pandas objects to pyarrow must not call it.

**NumPy.** ``import pyarrow`` imports NumPy when it can (0.07 s here, numpy 2), and only then: a
pyarrow imported while NumPy could not be found works without it for the life of the process,
as it does where NumPy is not installed. :func:`arrow_without_numpy` imports pyarrow so, for
``mailtrace logs``, whose code hands pyarrow buffers (``pa.py_buffer``, ``from_buffers``) and
Python values but never a NumPy array: on a two-core machine that import is on the critical path
of the whole run. NumPy itself still imports when some code asks for it (the Python parsers
use it for their own arithmetic); only pyarrow does not know it. A command that hands NumPy
arrays to pyarrow (``pa.array(ndarray)``, ``to_numpy``) must not call it.

>>> import subprocess, sys
>>> code = ("import sys, pyarrow as pa, pyarrow.compute as pc; "
...         "from mailtrace.arrow_imports import defer_pandas; defer_pandas(); "
...         "pc.equal(pa.array([1, 2]), 1); print('pandas' in sys.modules, end=' '); "
...         "print(type(pa.table({'a': [1]}).to_pandas()).__name__, end='')")
>>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
'False DataFrame'
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["arrow_without_numpy", "defer_pandas"]


class _Without(MetaPathFinder):
    """An import finder under which ``import NAME`` fails (and nothing else changes)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname == self.name:
            raise ModuleNotFoundError(f"{self.name} is deferred", name=self.name)
        return None


def defer_pandas() -> None:
    """Let pyarrow run without importing pandas until something asks it for pandas itself.

    Does nothing if pandas is already imported. Call it before any thread uses pyarrow.
    """
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    finder = _Without("pandas")
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's first look for pandas: it fails and is remembered
    except ImportError:  # a pyarrow that insists on pandas here: it imports it later, as usual
        pass
    finally:
        sys.meta_path.remove(finder)


def arrow_without_numpy() -> bool:
    """Import pyarrow without NumPy (see the module's docstring); whether it was so imported.

    Does nothing (False) when pyarrow or NumPy is already imported. Call it before anything
    imports pyarrow, in a process that never hands pyarrow a NumPy object.
    """
    if "pyarrow" in sys.modules or "numpy" in sys.modules:
        return False
    finder = _Without("numpy")
    sys.meta_path.insert(0, finder)
    try:
        import pyarrow  # noqa: F401  (imported for its side effect: pyarrow without NumPy)
    finally:
        sys.meta_path.remove(finder)
    return "numpy" not in sys.modules
