"""The Processor API: write a Processor, get a ProcessorContext, forward Records."""

from ..records import Record
from .api import Processor, ProcessorContext, PunctuationType

__all__ = ["Processor", "ProcessorContext", "PunctuationType", "Record"]
