"""Presidio recognizers Veille adds to the ones Presidio ships (French identifiers)."""

from detectors.recognizers.fr import (
    FrenchRecognizer,
    FrIdCardRecognizer,
    FrNirRecognizer,
    FrPassportRecognizer,
    FrPhoneRecognizer,
    FrSirenRecognizer,
    FrSiretRecognizer,
    icao_check_digit,
    luhn_ok,
    nir_key,
)

__all__ = [
    "FrIdCardRecognizer",
    "FrNirRecognizer",
    "FrPassportRecognizer",
    "FrPhoneRecognizer",
    "FrSirenRecognizer",
    "FrSiretRecognizer",
    "FrenchRecognizer",
    "icao_check_digit",
    "luhn_ok",
    "nir_key",
]
