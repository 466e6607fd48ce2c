"""The entry point of the ``feedmgr`` console script and of ``python -m feedmgr``.

``feedmgr --version`` is answered here, before click and the CLI are imported: they cost
about 30 ms of CPU, more than the interpreter itself needs to start (benchmarks/README.md).
Everything else goes to ``feedmgr.cli.main``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

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


def run() -> NoReturn:
    """The ``feedmgr`` console script and ``python -m feedmgr``: run, exit with the code."""
    code = main()
    import signal  # here, not at the top: --version stays free of its enum import

    # The outcome is decided and reported. A Ctrl-C while the interpreter shuts down (joining
    # worker processes, flushing output) would kill it by SIGINT after "activated" was printed,
    # hiding the exit code; from here on there is nothing left to interrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Shutting down, the interpreter runs full garbage collections while it clears the
    # modules: 20-40 ms after an ingest, about as long as the interpreter takes to start.
    # Every file feedmgr writes is closed by then (stdout and stderr are flushed apart from
    # the collector), so objects still alive need no collecting: they are left to the exit.
    import gc

    gc.freeze()
    sys.exit(code)
