"""The archive: a folder of packages that can be copied as it is onto a USB stick or a disc.

Where to look:

- :mod:`.layout`: where everything lives and how it is named (FAT32- and ISO 9660-safe);
- :mod:`.records`: one record per transcript, one per package, and ``data/package.json``
  (read and written there and nowhere else);
- :mod:`.store`: an archive on disk: its packages, the lock, staging and publishing
  (every write goes through staging and a rename), recovery after a kill;
- :mod:`.members`, :mod:`.writer`: writing a package (its members' files in worker
  processes; the timestamp, ``package.json``, PREMIS, the bag and the label);
- :mod:`.revise`: new versions of existing packages (a completed timestamp, a renewal);
- :mod:`.bag`, :mod:`.premis`, :mod:`.label`: BagIt, PREMIS 3, the printable label;
- :mod:`.index`: ``index.json`` and the build report, derived from the packages;
- :mod:`.check`: ``archiver check``.

The layout of an archive is documented in ``docs/archive-layout.md``.
"""

from .layout import QUARANTINE_PREFIX, package_name
from .records import PackageInfo, PackageManifest, TranscriptRecord
from .store import Archive, Package

__all__ = ["QUARANTINE_PREFIX", "Archive", "Package", "PackageInfo", "PackageManifest", "TranscriptRecord",
           "package_name"]
