"""One module per command (imported only when it runs), and the default manifest name.

Holds only constants: `rlstate validate` imports this package, so it stays bare. The default
manifest name is defined in `reconcile` itself, so that `rlstate --help` need not import this.
"""

from reconcile import DEFAULT_MANIFEST

__all__ = ["DEFAULT_MANIFEST"]
