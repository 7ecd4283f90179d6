"""The bank-transactions walkthrough: transactions enriched with their account and customer
from two GlobalKTables, split into credits and debits. See README.md in this directory;
run it with ``python -m examples.banking``."""

from .generator import BankData, generate, produce_all
from .topics import Topics, create_topics
from .topology import build_topology

__all__ = ["BankData", "Topics", "build_topology", "create_topics", "generate", "produce_all"]
