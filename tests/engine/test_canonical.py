"""The canonical JSON bytes are exactly ``json.dumps(sort_keys, no spaces, UTF-8)``'s, however fast
they are made: stored hashes, run hashes and ledger leaves depend on every byte."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.values.canonical import canonical_json, decimal_text, dumps


def reference(plain: Any) -> bytes:
    return json.dumps(plain, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))  # no lone surrogates
scalars = st.none() | st.booleans() | st.integers() | text
plain = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400)
@given(plain)
def test_dumps_is_byte_identical_to_json(value: Any) -> None:
    assert dumps(value) == reference(value)


def test_the_characters_json_escapes_and_big_integers() -> None:
    awkward = {
        "controls": "".join(chr(i) for i in range(0x20)) + "\x7f\"\\/",
        "separators": "\u2028\u2029\ufeff",
        "中文": "考核 😀",
        "big": [2**63 - 1, -(2**63), 2**64, -(2**70)],  # beyond 64 bits json writes them all
    }
    assert dumps(awkward) == reference(awkward)
    assert canonical_json({"b": [1, "x"], "a": None}) == b'{"a":null,"b":[1,"x"]}'


def test_subclasses_and_non_string_keys_are_written_as_json_writes_them() -> None:
    class Label(str):
        pass

    assert dumps({"k": Label("v")}) == reference({"k": Label("v")}) == b'{"k":"v"}'
    assert dumps({2: True, 10: False}) == reference({2: True, 10: False}) == b'{"2":true,"10":false}'


def normalized_text(value: Decimal) -> str:
    """The canonical text's definition: normalised, plain notation, one zero."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


decimals = st.decimals(allow_nan=False, allow_infinity=False) | st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=-40, max_value=40),
)


@settings(max_examples=1000)
@given(decimals)
def test_a_decimals_text_is_its_normalised_plain_form(value: Decimal) -> None:
    assert decimal_text(value) == normalized_text(value)


def test_decimal_texts_at_the_edges() -> None:
    cases = {
        "1.50": "1.5", "100": "100", "1E+2": "100", "-0.000": "0", "-0": "0", "0E-9": "0",
        "0.0000001": "0.0000001", "1.0000": "1", "-12.3400": "-12.34", "10.0": "10",
        "1234567890123456789012345678.5": "1234567890123456789012345678",  # 28 digits kept
    }
    for given_text, expected in cases.items():
        assert decimal_text(Decimal(given_text)) == expected == normalized_text(Decimal(given_text))
    for bad in ("NaN", "Infinity", "-Infinity", "sNaN"):
        with pytest.raises(ValueError, match="no canonical form"):
            decimal_text(Decimal(bad))
