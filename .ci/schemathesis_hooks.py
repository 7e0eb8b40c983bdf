"""Schemathesis hooks: the `kz-iin` string format of the served OpenAPI document.

A schema can give an IIN's shape (12 digits) but not its check digit or its birth date, so
the document marks IIN parameters `format: kz-iin` and this strategy makes valid ones, as
`src/rules/iin.rs` checks them (decision 8 of algorithm.md). Schema-valid requests then carry
IINs the service must accept; invalid ones come from the negative phases.
"""

import datetime

import schemathesis
from hypothesis import assume
from hypothesis import strategies as st


def check_digit(d):
    first = sum((i + 1) * x for i, x in enumerate(d)) % 11
    if first != 10:
        return first
    second = sum((((i + 2) % 11) + 1) * x for i, x in enumerate(d)) % 11
    return None if second == 10 else second


@st.composite
def iins(draw):
    century = draw(st.integers(min_value=1, max_value=6))
    base = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}[century]
    born = draw(st.dates(min_value=datetime.date(base, 1, 1), max_value=datetime.date(base + 99, 12, 31)))
    serial = draw(st.integers(min_value=0, max_value=9999))
    text = f"{born.year % 100:02}{born.month:02}{born.day:02}{century}{serial:04}"
    c = check_digit([int(ch) for ch in text])
    if c is None:
        # No IIN has these first eleven digits; move on to the next serial.
        text = f"{text[:7]}{(serial + 1) % 10000:04}"
        c = check_digit([int(ch) for ch in text])
    assume(c is not None)  # the rare draw with no check digit at all is discarded
    return f"{text}{c}"


schemathesis.openapi.format("kz-iin", iins())
