"""Match keys: an e-mail address, a phone number or a name as two records are compared by, however it was
written. One definition for the whole framework: the duplicate-customer finder (``core.services.duplicates``),
the exhibitions plugin's returning-visitor check and the retail till use these same functions (phone
numbers: :func:`core.phones.phone_key`, re-exported here), and ``trellis.plugin`` exports them for plugins.

Every function returns ``""`` for a value that cannot match anything (blank, too short, or erased by
``trellis privacy erase``), and an empty key never matches."""
from __future__ import annotations

import re
import unicodedata

from core.phones import DEFAULT_COUNTRY_CODE, phone_key
from core.privacy import TOMBSTONE

_SPACES = re.compile(r"\s+")


def _erased(text: str) -> bool:
    return text.startswith(TOMBSTONE)


def email_key(raw: str | None) -> str:
    """An e-mail address as records are matched by: trimmed, lower-case (``" Li.Lei@Example.COM "`` is
    ``"li.lei@example.com"``). "" for none."""
    text = (raw or "").strip().lower()[:254]
    return "" if _erased(text) else text


def name_key(raw: str | None) -> str:
    """A name as records are matched by: Unicode NFKC (full-width letters, digits and spaces become their
    half-width forms: ``"ＡＢＣ 贸易"`` is ``"abc 贸易"``), case-folded, whitespace trimmed and collapsed to
    one space. "" for none."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", raw or "").casefold()).strip()[:200]
    return "" if _erased(text) else text


__all__ = ["DEFAULT_COUNTRY_CODE", "email_key", "name_key", "phone_key"]
