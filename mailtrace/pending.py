"""A result that one thread hands to others: the part of ``concurrent.futures.Future`` that the
planning and the parse ahead use, without importing concurrent.futures.

Why not Future itself: ``mailtrace report`` plans its log and starts parsing it before anything
else is imported, on one core, while the other waits. concurrent.futures imports logging (with
traceback, tokenize, textwrap …): 11 ms of that single-threaded start. The report still imports
it, for its thread pools, but later, beside the parse.

>>> import threading
>>> answer: Pending[int] = Pending()
>>> threading.Thread(target=answer.set_result, args=(42,)).start()
>>> answer.result()
42
>>> failed: Pending[int] = Pending()
>>> failed.set_exception(ValueError("no plan"))
>>> failed.result()
Traceback (most recent call last):
...
ValueError: no plan
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Pending"]

T = TypeVar("T")


class Pending(Generic[T]):
    """A value or an exception, set once by one thread and waited for by any."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Pending[T]], object]] = []

    def set_result(self, value: T) -> None:
        """Hand over ``value``: waiters wake, callbacks run (in this thread)."""
        self._value = value
        self._finish()

    def set_exception(self, error: BaseException) -> None:
        """Hand over ``error``, raised to whoever asks for the result."""
        self._error = error
        self._finish()

    def result(self) -> T:
        """The value, once set (waiting for it); or the exception set, raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set: T, which may be None

    def add_done_callback(self, callback: Callable[[Pending[T]], object]) -> None:
        """Call ``callback(self)`` once the result is set: now, if it is already."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def _finish(self) -> None:
        with self._lock:
            if self._done.is_set():
                raise RuntimeError("a Pending result is set once")
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)
