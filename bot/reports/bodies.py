"""GitHub's limit on issue, pull request and comment bodies (65,536 characters). Pure.

Every body the app sends passes :func:`fit` on its way out (:mod:`bot.clients.github`), so none
is ever refused with a 422; features keep their text well inside the limit themselves
(summaries, pages), and ``fit`` is the last line of defence: it cuts the middle, keeps
the hidden markers at the end (recovery finds a reply by them) and says what was cut.
"""

from __future__ import annotations

import re

MAX_BODY = 65_536
_MARKERS = re.compile(r"(?:\s*<!--[^\n]*?-->)+\s*$")
_CUT = "\n\n… *({count:,} characters cut here: GitHub shows at most 65,536 in one body.)*\n\n"


def fit(text: str, limit: int = MAX_BODY) -> str:
    """``text`` unchanged when it fits in ``limit`` characters, else cut to fit."""
    if len(text) <= limit:
        return text
    found = _MARKERS.search(text)
    tail = found.group(0) if found and len(found.group(0)) < limit // 4 else ""
    note = _CUT.format(count=len(text))  # an upper bound, so the note's length is fixed
    keep = limit - len(tail) - len(note)
    head = text[:keep]
    line = head.rfind("\n")
    head = head[:line] if line > keep // 2 else head
    cut = len(text) - len(tail) - len(head)
    return head + _CUT.format(count=cut) + tail
