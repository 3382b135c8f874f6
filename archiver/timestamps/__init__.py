"""Stage 5, timestamps: proofs that outlive certificates.

- :mod:`.tsa`: RFC 3161 tokens: a remote TSA over HTTP, the embedded local TSA, and the
  one place a token is judged (:func:`~.tsa.check_token`);
- :mod:`.evidence`: RFC 4998 evidence records (hash trees, renewal, verification);
- :mod:`.config`: which TSA the user configured;
- :mod:`.package`: a package's timestamp, one request over the hash tree of its members.
"""
