"""Mail headers into tables: Received chains, dates, authentication results, vendor headers."""

from mailtrace.headers.analysis import MessageReport, analyze
from mailtrace.headers.dates import ParsedDate, parse_date
from mailtrace.headers.message import MessageHeaders, parse_headers, read_headers
from mailtrace.headers.received import Received, parse_received

__all__ = [
    "MessageHeaders",
    "MessageReport",
    "ParsedDate",
    "Received",
    "analyze",
    "parse_date",
    "parse_headers",
    "parse_received",
    "read_headers",
]
