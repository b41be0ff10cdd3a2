"""What a name may contain: no control or invisible formatting characters.

Names (providers, models, teams, tollway keys, provider key labels) end up in
headers, log lines, CSV reports, terminals and the console. Refused:

- ``Cc``, the control characters: CR, LF and NUL split headers and log lines, ESC
  drives terminals, DEL and the C1 range are invisible;
- ``Cf``, the format characters: bidi overrides and isolates (U+202A to U+202E,
  U+2066 to U+2069) make a name display as another (the "Trojan Source" trick), and
  zero-width spaces and the BOM make two names look identical. The zero-width
  (non-)joiners U+200C and U+200D are kept: Persian, Indic scripts and emoji
  sequences need them;
- ``Zl`` and ``Zp``, the Unicode line and paragraph separators, which act as
  newlines;
- ``Cs``, lone surrogates, which are not text at all.

Everything else is allowed, Chinese and en dashes included: headers carry names
encoded (api/inference/response_headers.py), never raw.
"""

from __future__ import annotations

import unicodedata

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})


def refused_character(text: str) -> str | None:
    """The first character a name may not contain, as ``U+XXXX``; None when clean."""
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES and char not in _JOINERS:
            return f"U+{ord(char):04X}"
    return None


def printable_name(text: str) -> str:
    """A pydantic validator: ``text`` unchanged, or a ValueError naming the code point."""
    refused = refused_character(text)
    if refused is not None:
        raise ValueError(
            f"must not contain control or invisible formatting characters (found {refused})"
        )
    return text
