"""The links of a page as a browser names them, for tests that read the HTML."""

from __future__ import annotations

from html.parser import HTMLParser


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self._open: list[str] | None = None
        self._label: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and dict(attrs).get("href") is not None:
            self._open, self._label = [], dict(attrs).get("aria-label")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.names.append(self._label or " ".join("".join(self._open).split()))
            self._open = None


def link_names(html: str) -> list[str]:
    """The accessible name of every link (``<a href>``) of the page, in order."""
    parser = _Links()
    parser.feed(html)
    return parser.names


def has_link(html: str, name: str) -> bool:
    """Whether a link's name holds ``name``, ignoring case, as Playwright's
    ``get_by_role("link", name=...)`` matches it."""
    return any(name.lower() in found.lower() for found in link_names(html))
