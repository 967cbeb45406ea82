"""The ``milestones`` command: the same stage functions the DAGs call.

Every command prints a one-line JSON summary as its last line of output.  A
user error (bad path, bad date, a file the gate rejects, a mistyped option) is one
clear line on stderr and a non-zero exit, never a traceback or a usage block.

Commands live in one module per concern (:mod:`.stages`, :mod:`.ledger`,
:mod:`.customers`, :mod:`.results`, :mod:`.templates`); each has a
``register(add)`` that declares its subcommands. Exit codes: 0 done, 1 a proof
not accepted, 2 usage, 3 the file gate refused the input, 4 an operator fault.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import sys
from collections.abc import Callable

from milestones.cli import customers, delivery, ledger, privacy, results, stages, templates
from milestones.cli.common import EXIT_FAULT, EXIT_GATE, EXIT_OK, EXIT_USAGE, UserError, emit

__all__ = ["EXIT_FAULT", "EXIT_GATE", "EXIT_OK", "EXIT_USAGE", "UserError", "build_parser", "main"]

#: The modules whose ``register`` adds commands, in the order ``--help`` lists them.
COMMAND_MODULES = (stages, delivery, ledger, customers, results, templates, privacy)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line: what is wrong and where to read more."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="milestones", description="milestones: CRM extracts in, timely personal emails out. "
                     "Every command ends with a one-line JSON summary.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    for module in COMMAND_MODULES:
        module.register(add)
    return parser


def main(argv: list[str] | None = None) -> int:
    from milestones.core import logsafe
    from milestones.ingest.errors import ExtractError
    from milestones.pipeline import GateFailed

    if argv is None:  # the command itself, not a caller in a process that goes on
        import gc

        # The process ends after one command. One collection closes what is left (database
        # connections: SQLite checkpoints its WAL), then the interpreter's shutdown need not
        # walk the hundreds of thousands of objects Great Expectations built on import again
        # (about 0.6 s of CPU).
        atexit.register(lambda: (gc.collect(), gc.freeze()))
    args = build_parser().parse_args(argv)
    logsafe.install()  # no credential in any log line, message or traceback
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except GateFailed as exc:
        print(f"milestones: validation gate failed: {exc}", file=sys.stderr)
        emit(exc.summary)
        return EXIT_GATE
    except ExtractError as exc:
        print(f"milestones: error: {logsafe.mask_secrets(str(exc))}", file=sys.stderr)
        return EXIT_GATE
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"milestones: error: {logsafe.mask_secrets(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - an operator fault is one line, not a traceback
        from milestones.core.faults import describe

        line = describe(exc)
        if line is None:
            raise
        print(f"milestones: error: {logsafe.mask_secrets(line)}", file=sys.stderr)
        return EXIT_FAULT
