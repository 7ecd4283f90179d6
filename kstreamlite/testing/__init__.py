"""Test a topology without a broker: TopologyTestDriver and its typed topics."""

from .driver import TopologyTestDriver
from .topics import NoSuchElementError, TestInputTopic, TestOutputTopic

__all__ = ["NoSuchElementError", "TestInputTopic", "TestOutputTopic", "TopologyTestDriver"]
