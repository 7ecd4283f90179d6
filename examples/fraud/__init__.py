"""Card-testing fraud detection with the Processor API: a charge under 0.10 followed, as
the account's next transaction and within 60 s, by one over 500.00. See README.md in this
directory; run it with ``python -m examples.fraud``."""

from .app import build_topology
from .generator import generate, transactions
from .reference import expected_alerts

__all__ = ["build_topology", "expected_alerts", "generate", "transactions"]
