"""Every string of the pages has a Chinese translation, and the compiled catalog is up to date."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "web"
PO = WEB / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _extracted() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(WEB), METHODS, keywords=KEYWORDS):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, filename)
    return found


def test_every_page_string_has_a_chinese_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh")
    translated = {m.id: m.string for m in catalog if m.id}
    missing = {msgid: where for msgid, where in _extracted().items() if not translated.get(msgid)}
    assert not missing, ("strings without a zh translation (add them to messages.po, then "
                         f"`make translations`): {missing}")


def test_compiled_catalog_matches_the_po_file() -> None:
    with PO.open("rb") as f:
        po = {m.id: m.string for m in read_po(f, locale="zh") if m.id}
    with MO.open("rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    assert mo == po, "web/translations/zh/LC_MESSAGES/messages.mo is stale: run `make translations`"
