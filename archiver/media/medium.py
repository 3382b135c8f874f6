"""The media a clerk writes to, and how many bytes each really holds.

Capacities are the recordable user-data sectors of each blank (2,048 bytes a sector),
the smallest of the formats sold under the name: a DVD-R holds 2,298,496 sectors, a
DVD+R 2,295,104, so "dvd" is the DVD+R. What a volume may use is the capacity less a
margin (:data:`MARGIN`): blanks of different makers and burners in different modes
differ by a few sectors, and a disc that fails at its last sector is a disc wasted.
The file system's own overhead (volume descriptors, path tables, directory records) is
counted file by file in :mod:`archiver.media.isofs`, never guessed as a share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError
from ..vn import decimal, thousands

SECTOR = 2048

#: Recordable sectors of each disc (ECMA-130 / ECMA-349 / ECMA-364 / BD-R 1.x figures).
DISC_SECTORS = {
    "cd": 360_000,  # CD-R 80 min (700 MB)
    "dvd": 2_295_104,  # DVD+R single layer (4.7 GB); DVD-R holds 2,298,496
    "dvd-dl": 4_173_824,  # DVD+R DL (8.5 GB)
    "bd": 12_219_392,  # BD-R single layer (25 GB)
    "bd-dl": 24_438_784,  # BD-R DL (50 GB)
}
DISC_NAMES_VI = {"cd": "CD", "dvd": "DVD", "dvd-dl": "DVD 2 lớp", "bd": "Blu-ray", "bd-dl": "Blu-ray 2 lớp"}

#: Kept free on every volume: 0.5 % of the capacity (3.7 MB of a CD, 23.5 MB of a DVD).
MARGIN = 0.005
#: Every volume but the last is filled to at least this share of the medium's capacity
#: whenever the classes' sizes allow it.
FILL_TARGET = 0.95
#: Files on a USB stick are counted in clusters of this size: FAT32 uses 32 KiB on
#: sticks over 32 GB (16 KiB below); an exFAT stick with larger clusters holds less.
USB_CLUSTER = 32 * 1024

_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4,
          "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3, "TB": 1000 ** 4,
          "KIB": 1024, "MIB": 1024 ** 2, "GIB": 1024 ** 3, "TIB": 1024 ** 4}


@dataclass(frozen=True)
class Medium:
    """What the volumes are written to: ``kind`` "iso" (an image to burn) or "usb" (a
    folder tree to copy); ``capacity`` in bytes, 0 for a USB copy in one folder."""

    name: str
    kind: str
    capacity: int

    @property
    def margin(self) -> int:
        return int(self.capacity * MARGIN)

    @property
    def usable(self) -> int:
        """Bytes a volume may take: the capacity less the margin (0: no limit)."""
        return self.capacity - self.margin if self.capacity else 0

    @property
    def fill_target(self) -> int:
        return int(self.capacity * FILL_TARGET)

    @property
    def is_image(self) -> bool:
        return self.kind == "iso"

    def describe(self) -> str:
        """The medium as a clerk reads it: ``DVD: 4.700.372.992 B, dự phòng / margin 0,5 % (…)``."""
        if not self.capacity:
            return "USB (một thư mục / one folder)"
        label = DISC_NAMES_VI.get(self.name, self.name.upper())
        return (f"{label}: {thousands(self.capacity)} B, dự phòng / margin {decimal(f'{MARGIN * 100:.1f}')} % "
                f"({thousands(self.margin)} B)")

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "capacity": self.capacity, "margin": self.margin,
                "usable": self.usable, "fill_target": FILL_TARGET}


def parse_size(text: str) -> int:
    """``650M`` (MiB), ``4G`` (GiB), ``16GB`` (10^9, as sticks are sold), ``700000000``."""
    found = re.fullmatch(r"\s*(\d+(?:[.,]\d+)?)\s*([KMGT]?(?:I?B)?)\s*", text.upper())
    if not found or found[2] not in _UNITS:
        raise UsageError(f"kích thước không hiểu được: {text!r} (ví dụ 650M, 4G, 16GB) / not a size: {text!r} "
                         "(e.g. 650M, 4G, 16GB)")
    size = int(float(found[1].replace(",", ".")) * _UNITS[found[2]])
    if size < 64 * SECTOR:
        raise UsageError(f"kích thước quá nhỏ: {text} / too small a medium: {text}")
    return size


def parse_medium(text: str) -> Medium:
    """``cd``, ``dvd``, ``dvd-dl``, ``bd``, ``bd-dl``, ``usb``, ``usb:SIZE`` or a ``SIZE``
    (an image of at most that many bytes)."""
    name = text.strip().lower()
    if name in DISC_SECTORS:
        return Medium(name, "iso", DISC_SECTORS[name] * SECTOR)
    if name == "usb":
        return Medium("usb", "usb", 0)
    if name.startswith("usb:"):
        return Medium(name, "usb", parse_size(name[4:]))
    size = parse_size(name)
    return Medium(name, "iso", size // SECTOR * SECTOR)
