"""``ast.parse`` for the tests that walk the source tree."""

from __future__ import annotations

import ast
import time

TRIES = 10


def ast_parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``, tried again on CPython 3.11.7's "AST constructor recursion depth
    mismatch": its AST builder keeps its depth count in state the whole interpreter
    shares, so a parse in another thread at the same moment (the suite's task and server
    threads, after the browser tests) can throw the count off. A parse alone is sound."""
    for attempt in range(TRIES):
        try:
            return ast.parse(source, filename)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == TRIES - 1:
                raise
            time.sleep(0.01)
    raise AssertionError("unreachable")
