"""Mail headers into tables: Received chains, dates, authentication results, vendor headers."""

from mailtrace.headers.dates import ParsedDate, parse_date
from mailtrace.headers.received import Received, parse_received

__all__ = ["ParsedDate", "Received", "parse_date", "parse_received"]
