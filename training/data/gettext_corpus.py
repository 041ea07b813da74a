"""English UI sentences (msgids) and their translations from the system's gettext catalogues.

Catalogues are read with the stdlib `gettext` parser. Messages are cleaned of what makes them
software strings rather than English: printf/brace/shell placeholders, markup and entities, menu
accelerators (`_File`, `&Open`), option syntax; then filtered to real multi-word text.
"""

from __future__ import annotations

import gettext
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

LOCALE_ROOT = Path("/usr/share/locale")

_PRINTF = re.compile(
    r"%(?:\d+\$)?(?:\([A-Za-z_][\w-]*\))?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?"
    r"(?:hh|h|ll|l|L|q|j|z|t|I64)?[diouxXeEfFgGcrsaApSm%]"
)
_BRACES = re.compile(r"\$?\{[^{}]*\}|\$[A-Za-z_]\w*|@\w+@")
_MARKUP = re.compile(r"<[^<>]*>")
_ACCEL = re.compile(r"(?<![\w&])[&_](?=\w)")
_OPTION = re.compile(r"(?<!\w)--?[A-Za-z][\w-]*")
_EMPTY_QUOTE = re.compile(r"[`'\"]\s*['\"]")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclass(frozen=True)
class Message:
    lang: str
    domain: str
    msgid: str
    msgstr: str


def clean(text: str) -> str | None:
    """A software string as plain English, or None when too little English remains."""
    text = text.replace("\\n", " ")
    text = _MARKUP.sub(" ", text)
    text = html.unescape(text)
    text = _PRINTF.sub(" ", text)
    text = _BRACES.sub(" ", text)
    text = _OPTION.sub(" ", text)
    text = _ACCEL.sub("", text)
    text = _EMPTY_QUOTE.sub(" ", text)
    text = _SPACE.sub(" ", text).strip(" \t:;,-")
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text).replace("( ", "(").replace("()", "").strip()
    words = _WORD.findall(text)
    if len(words) < 3 or len(words) > 40 or not text[:1].isalpha():
        return None
    letters = sum(c.isalpha() for c in text)
    if not text.isascii() or letters < 0.7 * sum(not c.isspace() for c in text):
        return None
    return text


def read_catalog(path: Path) -> Iterator[tuple[str, str]]:
    """Raw (msgid, msgstr) pairs of one .mo file: context stripped, plural forms as their singular.

    Shared by the English corpus and the multilingual parallel corpus, so both read catalogues alike.
    """
    try:
        with path.open("rb") as handle:
            catalog: dict[object, str] = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    except (OSError, UnicodeDecodeError, LookupError, ValueError) as exc:
        tqdm.write(f"skipping {path}: {exc}")
        return
    for key, value in catalog.items():
        if isinstance(key, tuple):
            if key[1] != 0:
                continue
            key = key[0]
        if not isinstance(key, str) or not key or not isinstance(value, str) or not value:
            continue
        yield key.split("\x04", 1)[-1], value


def messages(langs: set[str] | None = None, root: Path = LOCALE_ROOT) -> Iterator[Message]:
    """Every (msgid, msgstr) pair of every catalogue, optionally only for `langs`."""
    for path in sorted(root.glob("*/LC_MESSAGES/*.mo")):
        lang = path.parent.parent.name
        if langs is not None and lang not in langs:
            continue
        for msgid, msgstr in read_catalog(path):
            yield Message(lang, path.stem, msgid, msgstr)


def english_msgids(root: Path = LOCALE_ROOT) -> Iterator[str]:
    """The English source strings: one catalogue per text domain is enough (msgids are shared)."""
    seen: set[str] = set()
    for path in sorted(root.glob("*/LC_MESSAGES/*.mo")):
        if path.stem in seen:
            continue
        seen.add(path.stem)
        for msgid, _ in read_catalog(path):
            yield msgid
