"""The build: its stages in order, and the worker pool every stage shares.

- :mod:`.build`: ``archiver build``, a thin orchestrator: ingest → verify → render →
  package → timestamp → site;
- :mod:`.verify_stage`: each new input verified and read once, in worker processes;
- :mod:`.kept`: what the verify stage keeps for rendering and the site;
- :mod:`.pool`: the one bounded worker pool (verification, rendering, the site, the sample).
"""
