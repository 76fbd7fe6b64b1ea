"""mailtrace: where did this message go, how long did each hop take, and why did it fail.

The public API is the short list in ``__all__``; everything else is reachable through the
submodules (``mailtrace.headers``, ``mailtrace.logs.postfix`` …) but may change.
"""

from mailtrace.errors import InputError, MailtraceError, ParseError, UsageError

__all__ = [
    "InputError",
    "MailtraceError",
    "ParseError",
    "UsageError",
]
