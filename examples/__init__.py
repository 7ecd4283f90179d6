"""Example applications built on kstreamlite; run one with ``python -m examples.<name>``."""
