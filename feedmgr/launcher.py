"""The entry point of the ``feedmgr`` console script and of ``python -m feedmgr``.

``feedmgr --version`` is answered here, before click and the CLI are imported: they cost
about 30 ms of CPU, more than the interpreter itself needs to start (benchmarks/README.md).
Everything else goes to ``feedmgr.cli.main``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from feedmgr import __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run feedmgr and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        # The exact line click's version option prints.
        sys.stdout.write(f"feedmgr, version {__version__}\n")
        return 0
    from feedmgr.cli import main as cli_main

    return cli_main(args)
