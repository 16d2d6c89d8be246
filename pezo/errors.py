"""The errors every layer may raise and the command line turns into one line: `UsageError` (bad input, exit 2;
ValueError and `pezo.reading.BadFile` are too) and `ToolFailed` (an external tool or a check failed, exit 1)."""


def reason(error, limit=160):
    """The first line of an exception's message (at most `limit` characters), or its type's name where it has none:
    how a library's own error is quoted inside pezo's one line."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:limit]


class UsageError(Exception):
    """Bad input that is not a ValueError (a missing choice between options); main() prints it and exits with
    status 2."""


class ToolFailed(RuntimeError):
    """An external tool (Yosys, a simulator, SymbiYosys) or a check pezo runs failed; main() prints why and exits
    with status 1."""
