"""Event time: watermark strategies and the per-task watermark they drive."""

from .watermarks import WatermarkStrategy

__all__ = ["WatermarkStrategy"]
