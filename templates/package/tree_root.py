"""Recompute this package's hash-tree root from its files, without archiver.

Run it from the package folder (the one holding bagit.txt), with any Python 3:
    python3 data/timestamp/tree_root.py
It prints the root computed from the files data/package.json lists. The value must equal
data/timestamp/root.sha256.txt, which the RFC 3161 token data/timestamp/package.tst
certifies (openssl ts -verify, step 2 of data/README.txt): together they prove these
files existed, unchanged, at the token's time.

The tree (RFC 4998, section 4.2): one leaf per member of data/package.json, in its order:
the SHA-256 of the sorted SHA-256 digests of the member's original, report JSON and
validation data (a member with one of them: that digest). Each parent is the SHA-256 of
its two children in ascending byte order; an odd last node moves up unchanged.
"""

import hashlib
import json
import pathlib

here = pathlib.Path(".")
meta = json.loads((here / "data" / "package.json").read_text(encoding="utf-8"))
level = []
for member in meta["members"]:
    files = member["files"]
    original = next((k for k in ("xml", "pdf_signed", "original") if k in files), "original")
    kinds = [k for k in (original, "report_json", "validation") if k in files]
    digests = sorted(hashlib.sha256((here / files[k]).read_bytes()).digest() for k in kinds)
    level.append(digests[0] if len(digests) == 1 else hashlib.sha256(b"".join(digests)).digest())
while len(level) > 1:
    parents = [hashlib.sha256(b"".join(sorted(level[i:i + 2]))).digest() for i in range(0, len(level) - 1, 2)]
    level = parents + (level[-1:] if len(level) % 2 else [])
print(level[0].hex() if level else "(no members)")
