"""Match keys: an e-mail address, a phone number or a name as two records are compared by, however it was
written. One definition for the whole framework: the duplicate-customer finder (``core.services.duplicates``)
and the exhibitions plugin's returning-visitor check use these same functions, and ``trellis.plugin``
exports them for other plugins.

Every function returns ``""`` for a value that cannot match anything (blank, too short, or erased by
``trellis privacy erase``), and an empty key never matches."""
from __future__ import annotations

import re
import unicodedata

from core.privacy import TOMBSTONE

#: the country code a phone number written without one is taken to have (mainland China)
DEFAULT_COUNTRY_CODE = "86"

_SPACES = re.compile(r"\s+")


def _erased(text: str) -> bool:
    return text.startswith(TOMBSTONE)


def email_key(raw: str | None) -> str:
    """An e-mail address as records are matched by: trimmed, lower-case (``" Li.Lei@Example.COM "`` is
    ``"li.lei@example.com"``). "" for none."""
    text = (raw or "").strip().lower()[:254]
    return "" if _erased(text) else text


def phone_key(raw: str | None, country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """A phone number as records are matched by: ``+<country code><number>``, digits only, however it was
    written (``+86 138-0013-8000``, ``0086 13800138000``, ``8613800138000`` and ``13800138000`` are one
    number; a national trunk ``0`` is dropped: ``021 5555 0000`` is ``+862155550000``). A number without a
    country code is taken to be ``country_code``'s. "" for none, or for fewer than five digits."""
    text = unicodedata.normalize("NFKC", (raw or "")).strip()  # full-width digits and ＋ too
    digits = re.sub(r"\D", "", text)
    if len(digits) < 5:
        return ""
    if text.startswith("+"):
        full = digits
    elif digits.startswith("00"):
        full = digits[2:]
    elif digits.startswith(country_code) and len(digits) >= len(country_code) + 10:
        full = digits  # written with the country code but without the "+"
    else:
        full = country_code + (digits[1:] if digits.startswith("0") else digits)
    if full.startswith(country_code + "0"):  # +86 (0)21 …
        full = country_code + full[len(country_code) + 1:]
    return ("+" + full)[:40]


def name_key(raw: str | None) -> str:
    """A name as records are matched by: Unicode NFKC (full-width letters, digits and spaces become their
    half-width forms: ``"ＡＢＣ 贸易"`` is ``"abc 贸易"``), case-folded, whitespace trimmed and collapsed to
    one space. "" for none."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", raw or "").casefold()).strip()[:200]
    return "" if _erased(text) else text


__all__ = ["DEFAULT_COUNTRY_CODE", "email_key", "name_key", "phone_key"]
