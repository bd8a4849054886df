"""synkan: measure facial synkinesis from ordinary video."""
__version__ = "0.1.0"
