"""Streaming SQL: a ksqlDB-style dialect compiled to the kstreamlite DSL.

>>> from kstreamlite.sql import to_topology
>>> topology = to_topology(open("fire_alerts.sql").read())

A script is ``;``-separated statements: ``CREATE STREAM|TABLE name (columns) WITH (...)``
declares a source topic; each ``CREATE STREAM|TABLE name [WITH (...)] AS SELECT ...`` is a
persistent query. All queries become one Topology. Errors are ``SqlError`` (a
``TopologyError``) with ``line`` and ``column``.
"""

from .compiler import plan_script, to_topology
from .errors import SqlError

__all__ = ["SqlError", "plan_script", "to_topology"]
