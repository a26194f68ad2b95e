"""Title normalization shared by the stored documents and the web search, so prefixes match both ways."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def normalize_title(title: str) -> str:
    """Lower-case, accents stripped, whitespace collapsed: "  Amélie " → "amelie"."""
    decomposed = unicodedata.normalize("NFKD", title or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()
