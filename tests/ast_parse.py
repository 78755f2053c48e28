"""``ast.parse`` for the tests that walk the source tree."""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor


def ast_parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """Parse on a thread of its own: on CPython 3.11.7, in a thread where Playwright's
    greenlets ran (the browser tests, earlier in the same process), the parse can fail with
    "AST constructor recursion depth mismatch"; a new thread starts with a sound count."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(ast.parse, source, filename).result()
