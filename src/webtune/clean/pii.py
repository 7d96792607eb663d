"""PII detection: typed patterns with validators (Luhn for cards, mod-97 for IBANs)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable

PII_TYPES = ("secret", "email", "iban", "credit_card", "ip_address", "phone")

# Words that make a nearby number an identifier, not a phone number or card.
_ID_CONTEXT = re.compile(
    r"(order|invoice|tracking|ref(erence)?|sku|asin|isbn|model|part|item|serial|ticket|case|"
    r"account|acct|po|no\.?|number|#)\s*[:#.]?\s*$", re.IGNORECASE)

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

EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
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


def _card_ok(match: re.Match, text: str) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
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


def _phone_ok(match: re.Match, text: str) -> bool:
    value = match.group(0)
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        return False
    if re.fullmatch(r"\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{2,4}", value):
        return False  # a date
    if re.fullmatch(r"\d{1,3}(,\d{3})+|\d+\.\d+", value):
        return False  # an amount
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
        "credit_card": [Detector("credit_card", CARD, _card_ok)],
        "ip_address": [Detector("ip_address", IPV4, _ip_ok), Detector("ip_address", IPV6, _ip_ok)],
        "phone": [Detector("phone", PHONE, _phone_ok)],
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
