"""UK numbers by Ofcom's National Telephone Numbering Plan, whatever libphonenumber knows of them.

Presidio's ``PhoneRecognizer`` keeps only numbers libphonenumber calls *valid*: inside a block its
metadata lists as allocated, and only for the jurisdiction's default regions. A UK mobile written the
national way ("07911 123456") is then missed in a French or US post, and a number in a block allocated
after the metadata was built, or kept for drama and examples (07700 900000-900999), is missed
everywhere, though a reader takes it for a phone number all the same. The plan's shape is enough:
a 0 trunk prefix (or +44 / 0044) and ten national digits, grouped as the plan writes them
(020 7946 0958, 0161 496 0000, 01632 960000, 07700 900123).
"""

from __future__ import annotations

import re
from typing import ClassVar

from detectors._presidio import Pattern
from detectors.recognizers.fr import PHONE_SEPARATOR, FrenchRecognizer

_SEP = PHONE_SEPARATOR + "?"
# Geographic (01, 02), non-geographic (03), mobile/personal/pager (07) and freephone/special (08):
# area code of 2 to 5 digits after the 0, then the subscriber number in one or two groups.
_NATIONAL = rf"(?:\(0[1-378]\d{{1,4}}\)|0[1-378]\d{{1,4}}){_SEP}\d{{3,4}}{_SEP}\d{{3,6}}"
_INTERNATIONAL = rf"(?:\+|00)44{_SEP}(?:\(0\){_SEP})?[1-378]\d{{1,4}}{_SEP}\d{{3,4}}{_SEP}\d{{3,6}}"


class UkPhoneRecognizer(FrenchRecognizer):
    """UK numbers: 0 + 10 digits, or +44 / 0044 (optionally "(0)") + 10 digits."""

    COUNTRY_CODE = "uk"
    ENTITY = "PHONE_NUMBER"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("UK_PHONE_INTL", rf"(?<![\w+]){_INTERNATIONAL}(?!\d)", 0.5),
        Pattern("UK_PHONE_NATIONAL", rf"(?<![\w+.\-]){_NATIONAL}(?![\w\-])", 0.4),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "phone", "telephone", "tel", "mobile", "cell", "call", "ring", "text", "number", "landline",
        "whatsapp", "sms", "téléphone", "tél", "portable", "appeler", "joindre", "numéro",
    ]

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = re.sub(r"\D", "", pattern_text)
        for prefix in ("0044", "44"):
            if digits.startswith(prefix):
                digits = digits[len(prefix) :]
                break
        # "+44 (0)20 ..." keeps the trunk 0 the international form drops.
        national = digits.removeprefix("0")
        # The plan's numbers have ten national digits (a few old 01 areas have nine: left to
        # libphonenumber); filler such as "07777 777777" is no subscriber.
        return len(national) != 10 or len(set(national[1:])) == 1
