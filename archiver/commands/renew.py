"""``archiver renew`` (defined with ``archiver timestamp``, which shares its TSA options)."""

from .timestamp import renew_command as command

__all__ = ["command"]
