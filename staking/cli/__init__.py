"""`swarm-staking`: the command line of the service (SPEC section 5).

One module per command group; importing them registers their commands on `app`. Errors are one
clear line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys

from staking.cli import (  # noqa: F401 - each module registers its commands
    audit,
    db,
    detectors,
    devnet,
    governance,
    incidents,
    investigations,
    policy,
    provider,
    rewards,
    service,
    timelock,
    verdicts,
)
from staking.cli.common import app, fail

__all__ = ["app", "fail", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
