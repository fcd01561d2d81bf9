"""`deepfake-edge`: one command, one subcommand per job; thin: parse, call, print.

Each subcommand lives in `deepfake_edge.app.commands.<name>` with `HELP`, `NEEDS`
(the pip extras it needs beyond the base install), `add_arguments(parser)` and
`run(args) -> exit code`. Command modules import nothing heavy at module level, so
`deepfake-edge --help` is instant and lists every command in the base install; a command
whose extra is missing says `pip install 'deepfake-edge[EXTRA]'` in one line, before it
starts and, for an optional package imported deeper down, when the import fails.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from deepfake_edge.runtime.errors import DeepfakeEdgeError
from deepfake_edge.runtime.extras import check_extra, error_for_import, missing_modules

# Order shown in --help: the user's path from data to a deployed, measured model.
COMMANDS = ("prepare", "train", "evaluate", "export", "verify", "detect", "scan", "app", "bench", "demo",
            "face-model", "weights")


def _module_name(command: str) -> str:
    return "deepfake_edge.app.commands." + command.replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepfake-edge",
        description="Real-vs-deepfake face detection for the edge: train, export, verify, detect, serve, benchmark.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(_module_name(name))
            missing = [extra for extra in module.NEEDS if missing_modules(extra)]
            note = f" [needs: pip install 'deepfake-edge[{','.join(missing)}]']" if missing else ""
            p = sub.add_parser(name, help=module.HELP + note, description=module.HELP + note)
            module.add_arguments(p)
            p.set_defaults(_run=module.run, _needs=module.NEEDS)
        except ImportError as exc:  # one broken optional dependency breaks only the command that needs it
            _add_unavailable(sub, name, exc)
    return parser


def _add_unavailable(sub, name: str, exc: ImportError) -> None:
    """A listed command whose module cannot be imported here: it says why, instead of breaking the CLI."""
    missing = exc.name or str(exc)
    why = f"unavailable here: the '{missing}' package cannot be imported ({str(exc).splitlines()[0][:120]})"
    if name in sub.choices:  # add_arguments failed after the parser was made
        sub._name_parser_map.pop(name)
        sub._choices_actions = [a for a in sub._choices_actions if a.dest != name]
    p = sub.add_parser(name, help=f"[{why}]", description=why, add_help=True)

    def run(_args, _missing=missing):
        from deepfake_edge.runtime.errors import DeepfakeEdgeError, MissingExtraError
        from deepfake_edge.runtime.extras import extra_for_module

        if _missing.split(".")[0] == "deepfake_edge":  # our own module: the install is stale, not an extra
            raise DeepfakeEdgeError(f"deepfake-edge {name}: the installed package lacks its module {_missing} "
                                    "(a stale install: reinstall it, e.g. `make setup` or `pip install .`)")
        raise MissingExtraError(_missing, extra_for_module(_missing), f"deepfake-edge {name}")

    p.set_defaults(_run=run, _unavailable=True)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # TensorFlow's C++ start-up chatter hides our own log lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for noisy in ("tensorflow", "absl", "h5py", "matplotlib", "PIL", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "_unavailable", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _configure_logging(args.verbose)
    purpose = "this command"
    try:
        for extra in getattr(args, "_needs", ()):
            check_extra(extra, purpose)
        return int(args._run(args) or 0)
    except DeepfakeEdgeError as exc:
        print(f"deepfake-edge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # an optional package imported deep inside a step
        missing = error_for_import(exc, purpose)
        if missing is None:
            raise
        print(f"deepfake-edge {args.command}: error: {missing}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"deepfake-edge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
