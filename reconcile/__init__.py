"""rlstate: declarative desired state for Runloop devboxes, objects and snapshot series."""

from pathlib import Path

__version__ = "0.1.0"
DEFAULT_MANIFEST = Path("rlstate.yaml")  # the manifest a command reads when given none
