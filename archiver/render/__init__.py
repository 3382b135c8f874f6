"""Stage 4, render: PDF/A renderings of transcripts (bản thể hiện).

A rendering shows a signed transcript as the official học bạ form of its level (Circular
22/2021 for THCS and THPT, Circular 27/2020 for primary school; the profile's layout) so a
person can read it; the signed XML stays the original. PDF/A-3b (the default) carries
that XML, bit-exact, as an associated file; PDF/A-1b is the same pages without it.

    pdf = render_transcript(xml_bytes, verification=result.to_dict())

Renderings are deterministic: the same input and the same archiver version give the same
bytes, so an archive can be re-rendered and compared, and a fixity audit is meaningful.

Inside: :mod:`.words` (the Vietnamese wording: verdicts, statuses, dates), :mod:`.fonts`
(the bundled fonts), :mod:`.text` (every text on a page), :mod:`.grid` (every table),
:mod:`.pages` (the pages of the học bạ form, laid out as the profile says) and :mod:`.pdfa` (PDF/A-1b
or -3b with pikepdf).
"""

# The renderer loads reportlab, pikepdf and the page layout: imported on first use, so
# that what needs only the fonts (the printable labels) does not carry it.
__all__ = ["FLAVOURS", "RenderError", "render_transcript"]


def __getattr__(name: str):
    if name in __all__:
        from . import document

        return getattr(document, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
