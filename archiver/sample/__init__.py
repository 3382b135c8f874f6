"""Sample schools for demos and tests: a test PKI, signed transcripts, labelled defects."""

from .generator import SampleOptions, SampleSummary, generate_sample

__all__ = ["SampleOptions", "SampleSummary", "generate_sample"]
