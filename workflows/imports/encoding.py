"""Decoding CSV bytes: UTF-8 (with or without BOM) or GB18030, which is what Excel in China saves."""

from __future__ import annotations

import codecs


class DecodeError(ValueError):
    pass


def decode_csv(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name). A BOM decides; else strict UTF-8, else GB18030.

    UTF-8 is tried first because valid UTF-8 of Chinese text is almost never valid GB18030 text of
    the same meaning, while plain ASCII is both.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise DecodeError(f"starts with a UTF-8 BOM but is not valid UTF-8 ({exc.reason} "
                              f"at byte {exc.start})") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DecodeError("is UTF-16; save it as CSV UTF-8 (or GB18030) instead")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise DecodeError(f"is neither UTF-8 nor GB18030 (undecodable byte at {exc.start}); "
                          "save it as CSV UTF-8") from exc
