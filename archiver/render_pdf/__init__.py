"""Internals of the PDF/A renderer; the public API is :mod:`archiver.render`.

- :mod:`.fonts` registers the bundled fonts and makes text safe to typeset;
- :mod:`.labels` holds the Vietnamese wording (verdicts, statuses, dates);
- :mod:`.layout` lays the pages out with reportlab (the official học bạ form, Circular 22/2021);
- :mod:`.pdfa` turns reportlab's PDF into PDF/A-1b or PDF/A-3b with pikepdf.
"""
