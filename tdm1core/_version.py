"""The software version, stamped on every output (its own module: importing it loads nothing else)."""

__version__ = "0.1.0"
