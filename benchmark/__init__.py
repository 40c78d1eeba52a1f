"""A benchmark of mode-weight accuracy and sampler mixing for energy-based models."""

__version__ = "0.1.0"
