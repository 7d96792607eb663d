"""PII redaction on realistic text, and no redaction of things that only look alike."""

from __future__ import annotations

import pytest

from tests.clean.helpers import apply, doc
from webtune.clean.pii import iban_ok, luhn_ok

EMAIL_TEXT = """Hi team,

please send the signed contract to maria.gonzalez@acme-corp.example.com before Friday, or call me
on +1 (415) 555-0132 / 020 7946 0958. Payment: card 4111 1111 1111 1111, or IBAN
DE89 3704 0044 0532 0130 00. The VPN is at 10.20.30.40 (backup 2001:db8::8a2e:370:7334).
Deploy key: AKIAIOSFODNN7EXAMPLE and OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx1234.
Thanks, Maria"""

LOOK_ALIKES = """Order #112-4567890-1234567 shipped on 2025-01-16 at 10:30:00.
Order number 4532015112830366 and invoice 4111111111111111 are in the portal.
Tracking: 1Z999AA10123456784. ISBN 978-3-16-148410-0. SKU 4006381333931.
Sticky Note Cubes 3 x 5 in - 12 Pads/Pack, 100 Sheets/Pad. Price $1,299.99, 8.5 x 11 in.
Version 1.2.3.4 of the app; card-like 1234 5678 9012 3456 fails Luhn.
Bad IBAN DE00 3704 0044 0532 0130 00. Holds up to 500 sheets; writes 1,500 meters."""


def test_realistic_text_is_redacted_with_typed_placeholders():
    d = doc(EMAIL_TEXT)
    drop, stats = apply({"step": "pii"}, d)
    assert drop is None
    assert stats == {"email": 1, "phone": 2, "credit_card": 1, "iban": 1, "ip_address": 2, "secret": 2}
    assert d.meta["pii"] == stats
    for gone in ("maria.gonzalez@", "555-0132", "7946", "4111 1111", "DE89", "10.20.30.40", "2001:db8", "AKIA", "sk-proj"):
        assert gone not in d.text
    assert "<EMAIL>" in d.text and "<CREDIT_CARD>" in d.text and "<IBAN>" in d.text and "<SECRET>" in d.text
    assert "Hi team" in d.text and "Thanks, Maria" in d.text


def test_look_alikes_are_left_alone():
    d = doc(LOOK_ALIKES)
    drop, stats = apply({"step": "pii"}, d)
    assert drop is None and stats == {} and d.text == LOOK_ALIKES and "pii" not in d.meta


def test_types_and_placeholders_are_configurable():
    d = doc(fields={"description": "Mail bob@example.org or call +44 20 7946 0958.", "title": "bob@example.org"})
    drop, stats = apply({"step": "pii", "fields": ["description"], "types": ["email"],
                         "placeholders": {"email": "[email removed]"}}, d)
    assert stats == {"email": 1}
    assert d.fields["description"] == "Mail [email removed] or call +44 20 7946 0958."
    assert d.fields["title"] == "bob@example.org"  # not a target field
    drop, _ = apply({"step": "pii", "max_redactions": 3}, doc(EMAIL_TEXT))
    assert drop.reason == "too_much_pii" and drop.value == 9


def test_unknown_type_is_a_config_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown PII type"):
        apply({"step": "pii", "types": ["passport"]}, doc("x"))


def test_checksums():
    assert luhn_ok("4111111111111111") and luhn_ok("5500005555555559") and not luhn_ok("1234567890123456")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and iban_ok("DE89370400440532013000")
    assert not iban_ok("GB82 WEST 1234 5698 7654 33") and not iban_ok("DE00370400440532013000")


LOCALES = [
    # China: mobile, with country code, landline; Japan; Korea; India; EU
    ("联系电话：13812345678，或致电010-12345678。", "联系电话：<PHONE>，或致电<PHONE>。", {"phone": 2}),
    ("请拨打+86 138 1234 5678咨询", "请拨打<PHONE>咨询", {"phone": 1}),
    ("お問い合わせは03-1234-5678まで、携帯090-1234-5678", "お問い合わせは<PHONE>まで、携帯<PHONE>", {"phone": 2}),
    ("문의 010-1234-5678 또는 02-123-4567", "문의 <PHONE> 또는 <PHONE>", {"phone": 2}),
    ("Call +91 98765 43210 or 098765 43210.", "Call <PHONE> or <PHONE>.", {"phone": 2}),
    ("Appelez le 01 23 45 67 89, ruf an: +49 30 1234567.", "Appelez le <PHONE>, ruf an: <PHONE>.", {"phone": 2}),
    # a valid Chinese resident ID (check character X) right after Han characters
    ("身份证号11010519491231002X已登记", "身份证号<CN_RESIDENT_ID>已登记", {"cn_resident_id": 1}),
    ("邮箱zhang.san@example.com，账号DE89370400440532013000请转账",
     "邮箱<EMAIL>，账号<IBAN>请转账", {"email": 1, "iban": 1}),
    ("IBAN FR14 2004 1010 0505 0001 3M02 606 und GB82 WEST 1234 5698 7654 32.",
     "IBAN <IBAN> und <IBAN>.", {"iban": 2}),
]


@pytest.mark.parametrize("text,expected,counts", LOCALES)
def test_phones_ids_and_ibans_of_other_locales(text, expected, counts):
    d = doc(text)
    drop, stats = apply({"step": "pii"}, d)
    assert (d.text, stats, d.meta["pii"]) == (expected, counts, counts)


@pytest.mark.parametrize("text", [
    "身份证号110105194912310021无效",        # wrong check character
    "编号110105194913310028",                # month 13: not a date
    "订单号13812345678已发货，型号：02-123-4567",  # order and model numbers
    "注文番号 03-1234-5678",
    "价格：1,299元，2024-01-15发货",
])
def test_look_alikes_in_other_locales_are_left_alone(text):
    d = doc(text)
    drop, stats = apply({"step": "pii"}, d)
    assert stats == {} and d.text == text


def test_the_resident_id_checksum():
    from webtune.clean.pii import cn_resident_id_ok

    assert cn_resident_id_ok("11010519491231002X") and cn_resident_id_ok("11010519491231002x")
    assert cn_resident_id_ok("440524188001010014")
    assert not cn_resident_id_ok("110105194912310021") and not cn_resident_id_ok("440524188001010015")
