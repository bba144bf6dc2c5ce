"""A tiny DOM reader for the status page tests (the page and Chromium's --dump-dom output)."""

from __future__ import annotations

from html.parser import HTMLParser


class Elements(HTMLParser):
    """Every start tag with its attributes, plus the page's text."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, class_: str | None = None, **attrs: str) -> list[dict]:
        """Tags named ``tag`` having class ``class_`` and every attribute (``data_x`` means ``data-x``)."""
        want = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [a for t, a in self.tags if t == tag
                and (class_ is None or class_ in (a.get("class") or "").split())
                and all(a.get(k) == v for k, v in want.items())]

    def tags_inside(self, tag: str, parent_class: str) -> list[dict]:
        """Attributes of each ``tag`` that directly follows an element of class ``parent_class``."""
        out = []
        for (_, before), (t, attrs) in zip(self.tags, self.tags[1:]):
            if t == tag and parent_class in (before.get("class") or "").split():
                out.append(attrs)
        return out
