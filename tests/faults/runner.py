"""``python -m tests.faults.runner [--no-exchange] ARGS...``: the webtune CLI, run by the fault tests.

``--no-exchange`` makes `webtune.stage.publish` take its fallback (two renames, recovered on
the next start), as on a system without ``renameat2(RENAME_EXCHANGE)``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """Run ``webtune ARGS``, with publish's atomic exchange turned off when asked."""
    if argv[:1] == ["--no-exchange"]:
        from webtune import stage

        stage.exchange = lambda a, b: False
        argv = argv[1:]
    from webtune.cli.main import app

    app(argv, prog_name="webtune")


if __name__ == "__main__":
    main(sys.argv[1:])
