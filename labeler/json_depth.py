"""How deep JSON from outside may nest: request bodies (``api.parsers``) and labels files
(``labeler.imports.reading.loader``) share one limit.

The API's own bodies need three levels at most and a Label Studio export about eight.
Deeper documents would recurse through serializers, error handlers and fingerprints; past
about a thousand levels Python's decoder itself gives up (RecursionError).
"""

MAX_DEPTH = 32
