"""Mail logs into the EVENTS table: framing, per-MTA parsers, transcripts and batch runs."""
