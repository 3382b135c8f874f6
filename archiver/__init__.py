"""archiver: keeps Vietnam's digital school transcripts (học bạ số) safe and checkable."""

__version__ = "0.1.0"
