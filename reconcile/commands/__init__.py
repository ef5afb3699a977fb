"""One module per command (imported only when it runs), and the default manifest name.

Holds only constants: `rlstate --help` and `validate` import this package, so it stays bare.
"""

from pathlib import Path

DEFAULT_MANIFEST = Path("rlstate.yaml")  # the manifest a command reads when given none
