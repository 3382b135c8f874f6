"""CLI commands, one module per command (or command group).

Each module defines a click object named ``command``; ``archiver.cli`` lists the modules
in the order `archiver --help` shows them.
"""


def writes_utf8(stream) -> bool:  # noqa: ANN001 - any text stream
    """Whether ``stream`` encodes all of Unicode (not a Windows code page, where output
    redirected to a file on a school PC lands)."""
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "") in ("utf8", "utf16", "utf32")
