"""PII detection: typed patterns with validators (Luhn for cards, mod-97 for IBANs, ISO 7064
for Chinese resident ID numbers).

Phone numbers: international ``+CC`` forms and the common national formats of China (mobile
``138 1234 5678``, landline ``010-12345678``), Japan (``03-1234-5678``, ``090-1234-5678``),
Korea (``010-1234-5678``, ``02-123-4567``), India (``98765 43210``, ``+91 98765 43210``)
and the EU (``01 23 45 67 89``, ``030 1234567``, ``+49 30 1234567``). Hand-written patterns,
not a phone library (phonenumbers needs the region of each number, which web text does not
say); the lookarounds are digit/letter based, not ``\b``, because in Chinese and Japanese
text a number follows a character without a space ("电话13812345678").
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable

PII_TYPES = ("secret", "email", "iban", "cn_resident_id", "credit_card", "ip_address", "phone")

# Words that make a nearby number an identifier, not a phone number or card.
_ID_CONTEXT = re.compile(
    r"(order|invoice|tracking|ref(erence)?|sku|asin|isbn|model|part|item|serial|ticket|case|"
    r"account|acct|po|no\.?|number|#|"
    # Chinese, Japanese and Korean: order, tracking, model, article, serial number
    r"订单号?|单号|编号|型号|货号|条码|序列号|注文番号|型番|品番|주문번호|모델명?)\s*[:#.：]?\s*$", re.IGNORECASE)

SECRET_PATTERNS = [
    r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |PGP )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |OPENSSH |DSA |PGP )?PRIVATE KEY-----",
    r"\bAKIA[0-9A-Z]{16}\b",                          # AWS access key id
    r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",             # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b",
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}\b",     # OpenAI / Anthropic style keys
    r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b",      # Stripe
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b",            # Slack
    r"\bAIza[0-9A-Za-z_\-]{35}\b",                    # Google API key
    r"\bhf_[A-Za-z0-9]{30,}\b",                       # Hugging Face
    r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\b",  # JWT
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{20,}=*",
    # key = value assignments of things named like secrets
    r"(?i)\b(?:api[_-]?key|secret|token|password|passwd|access[_-]?key)\b[\"']?\s*[:=]\s*[\"']?[^\s\"',;<>]{8,}",
]

EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
                   r"(?![A-Za-z0-9])")
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")
# 6-digit region, birth date YYYYMMDD, 3-digit sequence, check character (GB 11643-1999).
CN_RESIDENT_ID = re.compile(
    r"(?<![A-Za-z0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![A-Za-z0-9])")
_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# National formats, digits-bounded (see the module docstring); each still passes `_phone_ok`.
NATIONAL_PHONES = [
    r"(?<![\d+])(?:(?:\+|00)86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?!\d)",      # China mobile
    r"(?<![\d+])(?:\(0\d{2,3}\)|0\d{2,3}-)\d{7,8}(?!\d)",                     # China landline
    r"(?<![\d+])0\d{1,4}-\d{1,4}-\d{4}(?!\d)",                                # Japan, Korea
    r"(?<![\d+])(?:\+91[ \-]?|0)?[6-9]\d{4}[ \-]\d{5}(?!\d)",                  # India
    r"(?<![\d+])\+91[ \-]?[6-9]\d{9}(?!\d)",
    r"(?<![\d+])0[1-9](?:[ .]\d{2}){4}(?!\d)",                                # France, Belgium
    r"(?<![\d+])\+\d{1,3}[ \-]?\d{1,4}(?:[ \-]\d{2,8}){1,4}(?!\d)",      # any +CC in CJK text
]
CARD = re.compile(r"(?<![\d\-])(?:\d[ \-]?){12,18}\d(?![\d\-])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?=[0-9A-Fa-f:]*[0-9A-Fa-f]:)(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,4}(?:[ .\-]\d{2,8}){1,4}(?![\w\-])"
    r"|(?<![\w+])\+\d{7,14}(?!\w)"
)


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string (credit card numbers pass it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    iban = candidate.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def cn_resident_id_ok(candidate: str) -> bool:
    """The check character of an 18-character Chinese resident ID (ISO 7064 MOD 11-2)."""
    body, check = candidate[:17], candidate[17].upper()
    total = sum(int(d) * w for d, w in zip(body, _CN_ID_WEIGHTS))
    return "10X98765432"[total % 11] == check


def _card_ok(match: re.Match, text: str) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    if text[max(0, match.start() - 1):match.start()] == "+":
        return False  # an international phone number, "+86 138 1234 5678"
    return luhn_ok(digits) and not _id_context(text, match.start())


def _ip_ok(match: re.Match, text: str) -> bool:
    try:
        address = ipaddress.ip_address(match.group(0))
    except ValueError:
        return False
    before = text[max(0, match.start() - 12):match.start()].lower()
    # "version 1.2.3.4" and "v1.2.3.4" are versions, not addresses
    return not re.search(r"(version|ver\.?|v)\s*$", before) and not (address.version == 4 and
                                                                      str(address).startswith("0."))


def _phone_ok(match: re.Match, text: str, national: bool = False) -> bool:
    value = match.group(0)
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        return False
    if re.fullmatch(r"\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{2,4}", value):
        return False  # a date
    if re.fullmatch(r"\d{1,3}(,\d{3})+|\d+\.\d+", value):
        return False  # an amount
    if national:
        return not _id_context(text, match.start())
    groups = re.split(r"[ .\-()]+", value.strip("+() "))
    # A phone number is either written with a leading + / (area) or in 2+ separated groups
    # of which the last has 3+ digits; "3 x 5" or "12 24" are not phones.
    if not value.startswith(("+", "(")) and (len(groups) < 2 or len(groups[-1]) < 3 or len(digits) < 9
                                              and len(groups) < 3):
        return False
    return not _id_context(text, match.start())


def _id_context(text: str, start: int) -> bool:
    return bool(_ID_CONTEXT.search(text[max(0, start - 24):start]))


@dataclass(frozen=True)
class Detector:
    """One PII type: a pattern and an optional check of each match against its context."""

    kind: str
    pattern: re.Pattern
    check: Callable[[re.Match, str], bool] | None = None


def detectors() -> dict[str, list[Detector]]:
    """The detectors of each PII type, most specific first."""
    return {
        "secret": [Detector("secret", re.compile(p)) for p in SECRET_PATTERNS],
        "email": [Detector("email", EMAIL)],
        "iban": [Detector("iban", IBAN, lambda m, t: iban_ok(m.group(0)))],
        "cn_resident_id": [Detector("cn_resident_id", CN_RESIDENT_ID, lambda m, t: cn_resident_id_ok(m.group(0)))],
        "credit_card": [Detector("credit_card", CARD, _card_ok)],
        "ip_address": [Detector("ip_address", IPV4, _ip_ok), Detector("ip_address", IPV6, _ip_ok)],
        "phone": [Detector("phone", PHONE, _phone_ok)] + [
            Detector("phone", re.compile(p), lambda m, t: _phone_ok(m, t, national=True)) for p in NATIONAL_PHONES],
    }


def redact(text: str, enabled: list[str], placeholders: dict[str, str],
           table: dict[str, list[Detector]] | None = None) -> tuple[str, dict[str, int]]:
    """``text`` with each PII match of the ``enabled`` types replaced; counts per type.

    Types run in order (secrets first), so a card inside a secret is counted once.
    """
    table = table or detectors()
    counts: dict[str, int] = {}
    for kind in PII_TYPES:
        if kind not in enabled:
            continue
        for det in table[kind]:
            def replace(match: re.Match, det=det, source=text) -> str:
                if det.check is not None and not det.check(match, source):
                    return match.group(0)
                counts[kind] = counts.get(kind, 0) + 1
                return placeholders[kind]

            text = det.pattern.sub(replace, text)
    return text, counts
