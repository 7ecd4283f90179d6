"""Everything that runs a topology; implementation detail, not public API."""
