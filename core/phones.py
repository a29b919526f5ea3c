"""Phone numbers as records are found by: one normaliser for every component (exhibitions' returning
visitors, retail members at the till), so ``+86 138-0013-8000``, ``0086 13800138000`` and
``13800138000`` are the same number wherever they are looked up."""
from __future__ import annotations

import re
import unicodedata

#: a phone number written without a country code is taken to be this country's (China)
DEFAULT_COUNTRY_CODE = "86"


def phone_key(raw: str | None, country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """A phone number as records are found by: ``+<country code><number>``, digits only, however it was
    written (``+86 138-0013-8000``, ``0086 13800138000``, ``13800138000`` are one number; spaces, dashes,
    dots and brackets are ignored, full-width digits read as digits; a national trunk ``0`` is dropped:
    ``021 5555 0000`` is ``+862155550000``). A number without a country code is taken to be ``country_code``'s. "" for none,
    or for fewer than five digits."""
    text = unicodedata.normalize("NFKC", raw or "").strip()  # full-width digits and ＋ as their ASCII forms
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


__all__ = ["DEFAULT_COUNTRY_CODE", "phone_key"]
