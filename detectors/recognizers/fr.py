"""French identifiers Presidio lacks, as PatternRecognizer subclasses with checksum validation.

Each declares, as Presidio's own country recognizers do, its ``PATTERNS``, ``CONTEXT`` and, where
the number carries a key, ``validate_result``; ``FrenchRecognizer`` builds them all the same way.

``validate_result`` follows Presidio's convention: True raises the score to 1.0 (a strong
checksum), False drops the match, None keeps the pattern's score (a weak checksum such as Luhn on
9 digits, which one random number in ten passes: context words must do the rest).
"""

from __future__ import annotations

import re
from typing import ClassVar

from detectors._presidio import Pattern, PatternRecognizer

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
# Between the groups of a phone number: a space (also the no-break and narrow no-break spaces of
# French typography), a dot or a dash.
PHONE_SEPARATOR = "[ .\\-\u00a0\u202f]"
_SEP = PHONE_SEPARATOR + "?"


def _compact(value: str) -> str:
    return _NON_ALNUM.sub("", value).upper()


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def nir_key(first13: str) -> int:
    """Key of a NIR: 97 - (number mod 97), Corsica's departments 2A/2B counted as 19/18."""
    department = first13[5:7].upper()
    number = first13[:5] + {"2A": "19", "2B": "18"}.get(department, department) + first13[7:]
    return 97 - int(number) % 97


def icao_check_digit(value: str) -> int:
    """ICAO 9303 check digit (weights 7, 3, 1), used on French identity documents."""
    total = 0
    for position, char in enumerate(value.upper()):
        if char.isdigit():
            number = int(char)
        elif "A" <= char <= "Z":
            number = ord(char) - 55
        else:
            number = 0
        total += number * (7, 3, 1)[position % 3]
    return total % 10


class FrenchRecognizer(PatternRecognizer):
    """A French identifier: subclasses declare the entity they find, their patterns and context."""

    COUNTRY_CODE = "fr"
    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[list[Pattern]]
    CONTEXT: ClassVar[list[str]]
    # Presidio's default: case-insensitive.
    REGEX_FLAGS: ClassVar[int] = re.DOTALL | re.MULTILINE | re.IGNORECASE

    def __init__(self, supported_language: str = "fr", context: list[str] | None = None) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            name=type(self).__name__,
            patterns=self.PATTERNS,
            context=context or self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=self.REGEX_FLAGS,
        )


class FrNirRecognizer(FrenchRecognizer):
    """Numéro d'inscription au répertoire (numéro de sécurité sociale): 13 characters + 2-digit key."""

    ENTITY = "FR_NIR"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "NIR",
            r"\b[1-478] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}\b",
            0.5,
        ),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "nir", "securite", "sociale", "secu", "insee", "vitale", "social", "security", "ssn", "numero",
        "sécurité", "sécu", "numéro",
    ]

    def validate_result(self, pattern_text: str) -> bool:
        value = _compact(pattern_text)
        if len(value) != 15 or not value[13:].isdigit():
            return False
        first13 = value[:13]
        department = first13[5:7]
        if not (first13[:5].isdigit() and first13[7:].isdigit()) or not (
            department.isdigit() or department in ("2A", "2B")
        ):
            return False
        return nir_key(first13) == int(value[13:])


class FrPhoneRecognizer(FrenchRecognizer):
    """French numbers: +33 / 0033 / +33 (0) / 0X, with spaces, dots or dashes between pairs."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "FR_PHONE_INTL",
            rf"(?<![\w+])(?:\+|00)33{_SEP}(?:\(0\){_SEP})?[1-9](?:{_SEP}\d{{2}}){{4}}(?!\d)",
            0.5,
        ),
        Pattern("FR_PHONE_NATIONAL", rf"(?<![\w+.-])0[1-9](?:{_SEP}\d{{2}}){{4}}(?![\w-])", 0.4),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "phone", "telephone", "téléphone", "tel", "tél", "mobile", "portable", "cell", "call", "appeler",
        "appelez", "appelle", "joindre", "numero", "numéro", "number", "fixe", "whatsapp", "sms",
    ]

    def invalidate_result(self, pattern_text: str) -> bool:
        national = "0" + re.sub(r"\D", "", pattern_text)[-9:]
        # "06 06 06 06 06" or "01 00 00 00 00" style filler is never a real subscriber.
        pairs = {national[i : i + 2] for i in range(0, 10, 2)}
        return len(pairs) == 1 or len(set(national[2:])) == 1


class FrSirenRecognizer(FrenchRecognizer):
    """SIREN: 9 digits (often 3 3 3), Luhn."""

    ENTITY = "FR_SIREN"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("SIREN", r"(?<!\d)(?<!\d )\d{3} ?\d{3} ?\d{3}(?!\d)(?! \d)", 0.3)
    ]
    CONTEXT: ClassVar[list[str]] = [
        "siren", "rcs", "entreprise", "societe", "société", "company", "registration", "immatriculation",
    ]

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = _compact(pattern_text)
        if len(set(digits)) == 1:
            return False
        return None if luhn_ok(digits) else False


class FrSiretRecognizer(FrenchRecognizer):
    """SIRET: SIREN + 5-digit establishment number, Luhn (La Poste's establishments: digit sum mod 5)."""

    ENTITY = "FR_SIRET"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("SIRET", r"(?<!\d)(?<!\d )\d{3} ?\d{3} ?\d{3} ?\d{5}(?!\d)(?! \d)", 0.4)
    ]
    CONTEXT: ClassVar[list[str]] = [
        "siret", "etablissement", "établissement", "entreprise", "societe", "société", "company", "rcs",
    ]

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = _compact(pattern_text)
        if len(set(digits)) == 1:
            return False
        if luhn_ok(digits):
            return None
        # La Poste's establishments share SIREN 356000000 and use a digit sum multiple of 5 instead.
        if digits.startswith("356000000") and sum(int(d) for d in digits) % 5 == 0:
            return None
        return False


class FrIdCardRecognizer(FrenchRecognizer):
    """Carte nationale d'identité: the 12-character pre-2021 number (YYMM + department + 5 digits),
    optionally followed by its MRZ check digit (ICAO 9303, then verified), and the 9-character
    alphanumeric number of the 2021 card (no public key: context must carry it)."""

    ENTITY = "FR_ID_CARD"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("CNI_1995", r"\b\d{2}(?:0[1-9]|1[0-2])[0-9A-Z]{3}\d{5}\d?\b", 0.3),
        Pattern("CNI_2021", r"\b(?=[0-9A-Z]*\d)(?=[0-9A-Z]*[A-Z])[0-9A-Z]{9}\b", 0.05),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "cni", "carte", "identite", "identité", "identity", "id", "card", "piece", "pièce", "numero",
        "numéro",
    ]
    # Document numbers are upper case: lower-case words with digits are not one.
    REGEX_FLAGS = re.DOTALL | re.MULTILINE

    def validate_result(self, pattern_text: str) -> bool | None:
        if len(pattern_text) == 13:
            return icao_check_digit(pattern_text[:12]) == int(pattern_text[12])
        return None


class FrPassportRecognizer(FrenchRecognizer):
    """French passport number: 2 digits, 2 letters, 5 digits (no public check digit)."""

    ENTITY = "FR_PASSPORT"
    PATTERNS: ClassVar[list[Pattern]] = [Pattern("FR_PASSPORT", r"\b\d{2}[A-Z]{2}\d{5}\b", 0.1)]
    CONTEXT: ClassVar[list[str]] = ["passeport", "passport", "numero", "numéro", "number"]
    # Document numbers are upper case: lower-case words with digits are not one.
    REGEX_FLAGS = re.DOTALL | re.MULTILINE
