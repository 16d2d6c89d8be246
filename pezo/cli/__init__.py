"""The `pezo` command line: export, sim, prove, flow (the main job on the paper's defaults), hil, synth, train,
quality and sweep, one module each in this package, on library functions that raise library errors; `main` turns
those into one line and an exit status.

Every command takes a generator configuration as a preset (`--preset otf-31x8`), a JSON spec file (`--spec`), an
exported build (`--manifest`), or field by field (`--strategy otf --generators 31 --width 8 ...`). Bad input
exits with status 2 and a message naming the bad value and what is allowed.
"""
import argparse
import os
import re
import signal
import sys
import threading
from pathlib import Path

from pezo import __version__
from pezo.errors import ToolFailed, UsageError
from pezo.files import held

from . import export, flow, hil, prove, quality, sim, sweep, synth, train

COMMANDS = (export, sim, prove, flow, hil, synth, train, quality, sweep)
"""The commands, one module each, in the order `pezo --help` lists them."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def parser():
    main_parser = Parser(prog="pezo", description=__doc__.splitlines()[0])
    main_parser.add_argument("--version", action="version", version=f"pezo {__version__}")
    commands = main_parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return main_parser


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that every `finally` (staging files, child processes) runs."""


def _stop(signum, frame):
    """On SIGINT or SIGTERM: stop every process pezo started (a simulator, a compiler), then unwind (after a
    write that is finishing, pezo.files.held)."""
    if held(signum):
        return
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated


def _descendants(pid):
    """The processes below `pid` (Linux /proc; none elsewhere)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _misread(argv):
    """What argparse would misreport in `argv`, said plainly, or None: an option before the command (argparse
    names the missing command, not the option), and a value beginning with '-' that is not a number (argparse
    takes it for an option and says the one before it lacks its value)."""
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        return f"{argv[0]} is not an option of pezo itself: give a command first (pezo --help lists them)"
    for option, value in zip(argv, argv[1:]):
        if option.startswith("--") and "=" not in option and re.fullmatch(r"-[0-9.]\S*", value) and \
                not re.fullmatch(r"-[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?", value):
            return f"{option} {value}: a value beginning with '-' reads as an option: write {option}={value}"
    return None


def main(argv=None):
    """Run one command: exit 0, 1 where a check failed, 2 on bad input (one line naming it), 130 or 143 when
    interrupted by SIGINT or SIGTERM."""
    for stream in (sys.stdout, sys.stderr):     # a path that is not UTF-8 is shown escaped, never a failed print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    refused = _misread(sys.argv[1:] if argv is None else list(map(str, argv)))
    if refused:
        print(f"error: pezo: {refused}", file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    handlers = {signum: signal.signal(signum, _stop) for signum in (signal.SIGINT, signal.SIGTERM)
                if threading.current_thread() is threading.main_thread()}
    try:
        return args.run(args)
    except (ValueError, UsageError, OSError) as error:
        where = f"{error.filename}: {error.strerror}" if isinstance(error, OSError) and error.filename else error
        print(f"error: {where}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        print(f"error: the Python package {error.name} is not installed: pezo's extras bring it "
              f"(pip install 'pezo[sim,synth,train]')", file=sys.stderr)
        return 2
    except ToolFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pezo: interrupted (SIGINT)", file=sys.stderr)
        return 130
    except Terminated:
        print("pezo: terminated (SIGTERM)", file=sys.stderr)
        return 143
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
