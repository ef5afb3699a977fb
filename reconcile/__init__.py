"""rlstate: declarative desired state for Runloop devboxes, objects and snapshot series."""

__version__ = "0.1.0"
