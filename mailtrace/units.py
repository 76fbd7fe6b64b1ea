"""Short human forms of durations and sizes, shared by the terminal, the charts and the HTML.

>>> duration(65.0), duration(-3.5), duration(7380), duration(None)
('+1m 05s', '-3.5s', '+2h 03m', '')
>>> size(512), size(35_117_302), size(35_117_302, compact=True)
('512 B', '33.5 MiB', '33.5M')
"""

from __future__ import annotations


def duration(seconds: float | None, unknown: str = "") -> str:
    """A signed, short duration: ``+4s``, ``-1m 05s``, ``+2h 03m``, ``+3d 04h``.

    Signed on purpose: a negative hop delay is a clock problem to show, never to hide.

    >>> duration(0.5), duration(-75), duration(90000), duration(None, unknown="?")
    ('+0.5s', '-1m 15s', '+1d 01h', '?')
    """
    if seconds is None:
        return unknown
    sign = "-" if seconds < 0 else "+"
    s = abs(seconds)
    if s < 60:
        return f"{sign}{s:.3f}".rstrip("0").rstrip(".") + "s"
    if s < 3600:
        return f"{sign}{int(s // 60)}m {int(s % 60):02d}s"
    if s < 86400:
        return f"{sign}{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    return f"{sign}{int(s // 86400)}d {int(s % 86400 // 3600):02d}h"


def size(n: int, compact: bool = False) -> str:
    """Bytes in binary units: ``33.5 MiB``, or ``33.5M`` where columns are narrow.

    >>> size(1023), size(2048, compact=True), size(3 * 1024**4)
    ('1023 B', '2.0k', '3072.0 GiB')
    """
    value = float(n)
    units = ("", "k", "M", "G") if compact else (" B", " KiB", " MiB", " GiB")
    for unit in units:
        if value < 1024 or unit == units[-1]:
            if unit == units[0]:
                return f"{int(value)}{unit}"
            return f"{value:.1f}{unit}"
        value /= 1024
    return str(n)
