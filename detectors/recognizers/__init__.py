"""Presidio recognizers Veille adds to the ones Presidio ships (French identifiers, UK phone numbers)."""

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
from detectors.recognizers.uk import UkPhoneRecognizer

__all__ = [
    "FrIdCardRecognizer",
    "FrNirRecognizer",
    "FrPassportRecognizer",
    "FrPhoneRecognizer",
    "FrSirenRecognizer",
    "FrSiretRecognizer",
    "FrenchRecognizer",
    "UkPhoneRecognizer",
    "icao_check_digit",
    "luhn_ok",
    "nir_key",
]
