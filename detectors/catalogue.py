"""What the detectors can find: their names, and one spec per entity the ``pii`` detector finds.

Importing this module is cheap (no Presidio, no spaCy): the policy compiler and the configuration
validate names against it without loading any model. The registry and the detectors both read it;
it imports none of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Cheapest first: the pipeline runs them in this order, so that the policy engine can decide
# after the cheap ones whether the costlier passes still matter for a post. The classifier (about
# 5,000 posts/s) comes before NER (about 150 posts/s): a rule pairing the two runs NER only where
# the classifier already agreed.
DETECTOR_ORDER: tuple[str, ...] = ("pattern", "lexicon", "pii", "sentiment", "classifier", "ner")

NER_ENTITIES: frozenset[str] = frozenset({"PERSON", "LOCATION"})


@dataclass(frozen=True, slots=True)
class PiiSpec:
    """One entity the ``pii`` detector finds by pattern: adding an entity is adding one spec below.

    ``recognizers`` are class names, Veille's own (``detectors.recognizers``) or Presidio's
    predefined ones, resolved only when the detector builds them, so that reading the catalogue
    never imports Presidio. Each is built with its own context words followed by ``context``.
    """

    entity: str
    recognizers: tuple[str, ...]
    # Must accept every text the recognizers could match: most posts then skip them entirely.
    prefilter: re.Pattern[str] | None
    # French (and extra English) words added to the recognizers' own, mostly English, lists.
    context: tuple[str, ...] = ()
    # Those of ``recognizers`` built with the jurisdiction's default phone regions.
    regional: tuple[str, ...] = ()


# Most posts have no 9 consecutive digits and skip the phone, card, SSN... recognizers.
_DIGITS = {n: re.compile(r"\d(?:[\s().\-/]*\d){" + str(n - 1) + "}") for n in (6, 7, 8, 9)}

PII_SPECS: Mapping[str, PiiSpec] = {
    spec.entity: spec
    for spec in (
        PiiSpec("EMAIL_ADDRESS", ("EmailRecognizer",), re.compile("@"),
                ("e-mail", "mail", "courriel", "adresse", "contact", "ecrire", "écrire", "contacter")),
        PiiSpec("PHONE_NUMBER", ("PhoneRecognizer", "FrPhoneRecognizer", "UkPhoneRecognizer"), _DIGITS[6],
                ("tel", "tél", "téléphone", "portable", "appeler", "appelez", "joindre", "numéro", "fixe",
                 "whatsapp", "sms"),
                regional=("PhoneRecognizer",)),
        PiiSpec("CREDIT_CARD", ("CreditCardRecognizer",), _DIGITS[9],
                ("carte", "bancaire", "cb", "crédit", "paiement", "payment")),
        PiiSpec("IBAN_CODE", ("IbanRecognizer",), re.compile(r"[a-z]{2}[ \-]?\d{2}", re.IGNORECASE),
                ("rib", "banque", "virement", "compte", "account")),
        # Two colons with only hex digits between them, found from the first colon: starting before it,
        # at every hex digit of a long run, would rescan the run each time (quadratic).
        PiiSpec("IP_ADDRESS", ("IpRecognizer",), re.compile(r"\d\.\d|:[0-9a-f]*:", re.IGNORECASE),
                ("adresse", "address", "serveur", "server", "host")),
        PiiSpec("URL", ("UrlRecognizer",), re.compile(r"[^\W_]\.[^\W\d_]{2}|://"), ("lien", "site", "web")),
        PiiSpec("US_SSN", ("UsSsnRecognizer",), _DIGITS[9], ("sécurité", "sociale")),
        PiiSpec("US_ITIN", ("UsItinRecognizer",), _DIGITS[9]),
        PiiSpec("US_PASSPORT", ("UsPassportRecognizer",), _DIGITS[8]),
        PiiSpec("UK_NINO", ("UkNinoRecognizer",), _DIGITS[6],
                ("assurance", "nationale", "insurance", "national")),
        PiiSpec("UK_NHS", ("NhsRecognizer",), _DIGITS[9], ("santé", "health")),
        PiiSpec("FR_NIR", ("FrNirRecognizer",), _DIGITS[6]),
        PiiSpec("FR_SIREN", ("FrSirenRecognizer",), _DIGITS[9]),
        PiiSpec("FR_SIRET", ("FrSiretRecognizer",), _DIGITS[9]),
        PiiSpec("FR_ID_CARD", ("FrIdCardRecognizer",), re.compile(r"\d")),
        PiiSpec("FR_PASSPORT", ("FrPassportRecognizer",), re.compile(r"\d{2}[A-Z]{2}\d")),
    )
}

PATTERN_PII_ENTITIES: frozenset[str] = frozenset(PII_SPECS)

PII_ENTITIES: frozenset[str] = PATTERN_PII_ENTITIES | NER_ENTITIES

PATTERN_TYPES: frozenset[str] = frozenset(
    {
        "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "GCP_API_KEY",
        "GCP_SERVICE_ACCOUNT_KEY",
        "AZURE_KEY",
        "PRIVATE_KEY",
        "GITHUB_TOKEN",
        "SLACK_TOKEN",
        "SLACK_WEBHOOK",
        "JWT",
        "PASSWORD_IN_TEXT",
        "CONNECTION_STRING",
    }
)

SENTIMENT_LANGUAGES: frozenset[str] = frozenset({"en", "fr"})
SENTIMENT_LABELS: tuple[str, ...] = ("positive", "negative", "neutral")

# The risk labels the shipped classifier scores (``detectors.classifier``): rules name them, the
# corpus labels examples with them, and the artefact must hold exactly these.
CLASSIFIER_LABELS: tuple[str, ...] = (
    "promissory_claim",
    "pumping",
    "mnpi",
    "special_category",
    "harassment",
    "employer_disparagement",
    "financial_promotion",
    "confidential_sharing",
)
