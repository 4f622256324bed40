"""Seeded, realistic sample posts for the demo, the tests and the benchmarks.

Templates plus random fill, no external data. Most posts are benign chatter; a few percent carry
personal data (e-mail, FR/US/UK phone numbers, IBAN with a valid checksum, card numbers passing Luhn,
French NIR with a valid key) or a policy breach (confidentiality markers, guaranteed-return promises by
registered representatives, brand rants, AWS-looking keys). Every generated identifier is synthetic:
checksums are valid so that detectors which validate them fire, but the numbers belong to nobody.

``post.metadata["sample_kind"]`` says what was injected (``benign``, ``email``, ...): ground truth for
evaluations, never read by the detectors.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from detectors.recognizers import luhn_ok, nir_key
from policies.post import Author, Post, Source

INTERNAL_CHANNELS = ("teams", "slack", "yammer")
EXTERNAL_CHANNELS = ("x", "linkedin", "reviews")
BRANDS = ("Northwind Bank", "Contoso Assurance", "Fabrikam Invest")
COUNTRIES: tuple[str | None, ...] = ("US", "GB", "FR", "DE", None)
COUNTRY_WEIGHTS = (3, 2, 4, 1, 1)

_FIRST = {
    "US": ("James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda"),
    "GB": ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily"),
    "FR": ("Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Jules"),
    "DE": ("Lukas", "Anna", "Leon", "Mia", "Finn", "Lena", "Paul", "Hannah"),
}
_LAST = {
    "US": ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia"),
    "GB": ("Taylor", "Evans", "Wilson", "Thomas", "Roberts", "Walker", "Wright", "Hughes"),
    "FR": ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"),
    "DE": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"),
}
_MAIL_DOMAINS = ("gmail.com", "outlook.com", "orange.fr", "yahoo.co.uk", "northwind-bank.com", "gmx.de")

_EN_BENIGN = (
    "Great session this morning on the {project} roadmap, thanks everyone!",
    "Who's up for lunch at the {city} office on {day}?",
    "Reminder: the {project} stand-up moves to {time} on {day}.",
    "Just finished the onboarding module, really well put together.",
    "Can someone share the slides from yesterday's {project} demo?",
    "Loving the new {product} app update, much faster than before.",
    "The {city} branch staff were friendly and helpful today.",
    "Any tips for the quarterly planning workshop on {day}?",
    "Congrats to the {project} team for shipping on time!",
    "Heading to the {city} conference next week, anyone else going?",
    "Opened my account with {brand} last month, smooth process so far.",
    "Coffee machine on floor 3 is fixed, rejoice.",
)
_FR_BENIGN = (
    "Super réunion ce matin sur la feuille de route {project}, merci à tous !",
    "Qui vient déjeuner au bureau de {city} {day_fr} ?",
    "Rappel : le point {project} est décalé à {time} {day_fr}.",
    "Je viens de terminer le module d'accueil, très bien fait.",
    "Quelqu'un peut partager les slides de la démo {project} d'hier ?",
    "La nouvelle version de l'appli {product} est vraiment plus rapide.",
    "Accueil très agréable à l'agence de {city} aujourd'hui.",
    "Des conseils pour l'atelier de planification {day_fr} ?",
    "Bravo à l'équipe {project} pour la livraison dans les temps !",
    "J'ai ouvert mon compte chez {brand} le mois dernier, rien à redire.",
)
_EN_PII = {
    "email": ("You can reach me directly at {email} if the portal is down.",
              "Send the signed form to {email} before {day}."),
    "phone": ("Call me on {phone} after {time}, I'm out of the office.",
              "My mobile is {phone}, text me when you land."),
    "iban": ("Please wire the refund to my account {iban}, thanks.",
             "Updated payroll details: IBAN {iban}."),
    "card": ("Can you check why card {card} was declined at the {city} store?",
             "My card number is {card}, the charge appeared twice."),
}
_FR_PII = {
    "email": ("Vous pouvez m'écrire directement à {email} si le portail est en panne.",
              "Merci d'envoyer le formulaire signé à {email} avant {day_fr}."),
    "phone": ("Appelez-moi au {phone} après {time}, je suis en déplacement.",
              "Mon portable : {phone}, envoyez-moi un SMS."),
    "iban": ("Merci de virer le remboursement sur mon compte {iban}.",
             "Nouveau RIB pour la paie : IBAN {iban}."),
    "card": ("Pourquoi ma carte {card} a-t-elle été refusée au magasin de {city} ?",
             "Mon numéro de carte est {card}, le débit apparaît deux fois."),
    "nir": ("Pour le dossier mutuelle, mon numéro de sécu est {nir}.",
            "Mon numéro de sécurité sociale : {nir}, merci de mettre à jour."),
}
_EN_BREACH = {
    "confidential": ("Attached are the Q3 numbers for {project}. Confidential - do not forward.",
                     "CONFIDENTIAL - DO NOT FORWARD: draft merger terms for {project} inside."),
    "guarantee": ("I guarantee you a {pct}% return on the {product} fund, zero risk.",
                  "Guaranteed returns of {pct}% a year with our {product} portfolio, no risk at all!"),
    "rant": ("{brand} is the worst bank ever, terrible service, absolutely disgusting. Avoid!",
             "Furious with {brand}: they lost my money again, pathetic and useless. Never again."),
    "aws_key": ("Deploy is failing, here is the config: aws_access_key_id={aws_id} "
                "aws_secret_access_key={aws_secret}",
                "Use AKIA key {aws_id} for the {project} bucket until IT rotates it."),
}
_FR_BREACH = {
    "confidential": ("Ci-joint les chiffres du T3 pour {project}. Confidentiel, ne pas diffuser.",
                     "Document strictement confidentiel, ne pas diffuser : projet {project}."),
    "guarantee": ("Je vous garantis un rendement de {pct} % sur le fonds {product}, sans aucun risque.",
                  "Rendement garanti de {pct} % par an avec notre offre {product}, zéro risque !"),
    "rant": ("{brand} est la pire banque, service honteux et nul, je suis furieux. À fuir !",
             "Scandaleux : {brand} a encore perdu mon virement, une arnaque, lamentable."),
}
_PROJECTS = ("Atlas", "Helios", "Orion", "Nova", "Phoenix", "Zephyr")
_PRODUCTS = ("Epargne+", "SmartSave", "Horizon", "Prime", "GreenInvest")
_CITIES = ("Paris", "Lyon", "London", "Manchester", "New York", "Chicago", "Berlin", "Munich")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi")

# (kind, weight per 1000 posts). The rest (~90 %) is benign.
_SENSITIVE_KINDS = (("email", 20), ("phone", 20), ("iban", 8), ("card", 8), ("nir", 8),
                    ("confidential", 15), ("guarantee", 8), ("rant", 15), ("aws_key", 5))
# Where each breach usually happens: leaks and secrets inside, rants outside, promises both.
_INTERNAL_SHARE = {"confidential": 0.85, "aws_key": 0.8, "guarantee": 0.5, "rant": 0.2}
_INTERNAL_ROLES = (("employee", 70), ("registered_rep", 12), ("executive", 8), ("investor_relations", 4),
                   ("contractor", 6))
_EXTERNAL_ROLES = (("public", 60), ("customer", 30), ("investor", 6), ("journalist", 4))


@dataclass(frozen=True)
class _Person:
    author: Author
    first: str
    last: str


def luhn_complete(partial: str) -> str:
    """``partial`` plus the check digit that makes the whole number pass the Luhn test."""
    return next(partial + digit for digit in "0123456789" if luhn_ok(partial + digit))


def iban_check_digits(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    numeric = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(numeric) % 97 == 1


def _group(value: str, size: int = 4) -> str:
    return " ".join(value[i : i + size] for i in range(0, len(value), size))


class _Filler:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def digits(self, count: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(count))

    def email(self, person: _Person) -> str:
        local = f"{person.first}.{person.last}".lower()
        local = local.translate(str.maketrans("éèüöäç", "eeuoac"))
        return f"{local}{self.rng.randint(1, 99)}@{self.rng.choice(_MAIL_DOMAINS)}"

    def phone(self, country: str | None) -> str:
        rng = self.rng
        if country == "FR":
            rest = [self.digits(2) for _ in range(4)]
            mobile = rng.choice("67")
            return rng.choice((f"0{mobile} {' '.join(rest)}", f"+33 {mobile} {' '.join(rest)}"))
        if country == "GB":
            number = f"7{rng.randint(400, 999)} {self.digits(6)}"
            return rng.choice((f"0{number}", f"+44 {number}"))
        area = rng.choice(("212", "415", "617", "312", "646", "202"))
        exchange = f"{rng.randint(2, 9)}{self.digits(2)}"
        line = self.digits(4)
        return rng.choice((f"({area}) {exchange}-{line}", f"+1 {area} {exchange} {line}"))

    def iban(self, country: str | None) -> str:
        if country == "GB":
            bban = "".join(self.rng.choice(string.ascii_uppercase) for _ in range(4)) + self.digits(14)
            code = "GB"
        elif country == "DE":
            bban, code = self.digits(18), "DE"
        else:
            bank, branch, account = self.digits(5), self.digits(5), self.digits(11)
            rib = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
            bban, code = f"{bank}{branch}{account}{rib:02d}", "FR"
        return _group(code + iban_check_digits(code, bban) + bban)

    def card(self) -> str:
        rng = self.rng
        brand = rng.choice(("visa", "mastercard", "amex"))
        if brand == "amex":
            number = luhn_complete(rng.choice(("34", "37")) + self.digits(12))
            return f"{number[:4]} {number[4:10]} {number[10:]}"
        prefix = "4" if brand == "visa" else str(rng.randint(51, 55))
        number = luhn_complete(prefix + self.digits(15 - len(prefix)))
        return rng.choice((_group(number), "-".join(number[i : i + 4] for i in range(0, 16, 4)), number))

    def nir(self) -> str:
        rng = self.rng
        sex = rng.choice("12")
        year, month = f"{rng.randint(50, 99):02d}", f"{rng.randint(1, 12):02d}"
        department = f"{rng.choice([*range(1, 20), *range(21, 96)]):02d}"
        commune, order = f"{rng.randint(1, 999):03d}", f"{rng.randint(1, 999):03d}"
        first13 = sex + year + month + department + commune + order
        return f"{sex} {year} {month} {department} {commune} {order} {nir_key(first13):02d}"

    def aws(self) -> tuple[str, str]:
        alphabet = string.ascii_uppercase + string.digits
        key_id = "AKIA" + "".join(self.rng.choice(alphabet) for _ in range(16))
        secret_alphabet = string.ascii_letters + string.digits + "/+"
        secret = "".join(self.rng.choice(secret_alphabet) for _ in range(40))
        return key_id, secret


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    names = [name for name, _ in table]
    weights = [weight for _, weight in table]
    return rng.choices(names, weights)[0]


def _people(rng: random.Random, count: int, internal: bool) -> list[_Person]:
    people = []
    for index in range(count):
        country = rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
        names_country = country or rng.choice(("US", "GB", "FR", "DE"))
        first, last = rng.choice(_FIRST[names_country]), rng.choice(_LAST[names_country])
        role = _weighted(rng, _INTERNAL_ROLES if internal else _EXTERNAL_ROLES)
        prefix = "emp" if internal else "ext"
        author = Author(
            id=f"{prefix}-{index:05d}",
            display_name=f"{first} {last}",
            handle=None if internal else f"@{first.lower()}{last[:3].lower()}{rng.randint(1, 999)}",
            is_employee=internal,
            role=role,
            country=country,
        )
        people.append(_Person(author, first, last))
    return people


def generate_posts(count: int, seed: int = 7, *, start: datetime | None = None) -> Iterator[Post]:
    """``count`` posts, the same for the same seed; about 10 % carry personal data or a breach."""
    if count < 0:
        raise ValueError(f"count must be zero or more, got {count}")
    rng = random.Random(seed)
    fill = _Filler(rng)
    employees = _people(rng, 120, internal=True)
    public = _people(rng, 240, internal=False)
    reps = [person for person in employees if person.author.role == "registered_rep"] or employees[:1]
    clock = start or datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    sensitive_total = sum(weight for _, weight in _SENSITIVE_KINDS)
    for index in range(count):
        clock += timedelta(seconds=rng.randint(1, 90))
        roll = rng.randrange(1000)
        kind = _weighted(rng, _SENSITIVE_KINDS) if roll < sensitive_total else "benign"
        internal = rng.random() < _INTERNAL_SHARE.get(kind, 0.55)
        person = rng.choice(reps if kind == "guarantee" else (employees if internal else public))
        country = person.author.country
        french = country == "FR" or (country is None and rng.random() < 0.3) or kind == "nir"
        if french and kind == "aws_key":
            french = False
        channel = rng.choice(INTERNAL_CHANNELS if internal else EXTERNAL_CHANNELS)
        text = _render(rng, fill, kind, french, person)
        post_id = f"{channel}-{seed:x}-{index:07d}"
        yield Post(
            id=post_id,
            source=Source.INTERNAL if internal else Source.EXTERNAL,
            channel=channel,
            author=person.author,
            text=text,
            lang=None if rng.random() < 0.1 else ("fr" if french else "en"),
            jurisdiction=country if country and rng.random() < 0.05 else None,
            created_at=clock,
            url=None if internal else f"https://{channel}.example.net/p/{post_id}",
            metadata={"sample_kind": kind},
        )


def _render(rng: random.Random, fill: _Filler, kind: str, french: bool, person: _Person) -> str:
    if kind == "benign":
        template = rng.choice(_FR_BENIGN if french else _EN_BENIGN)
    else:
        table = (_FR_PII | _FR_BREACH) if french else (_EN_PII | _EN_BREACH)
        template = rng.choice(table[kind])
    country = person.author.country
    values: dict[str, Callable[[], str]] = {
        "project": lambda: rng.choice(_PROJECTS),
        "product": lambda: rng.choice(_PRODUCTS),
        "city": lambda: rng.choice(_CITIES),
        "brand": lambda: rng.choice(BRANDS),
        "day": lambda: rng.choice(_DAYS),
        "day_fr": lambda: rng.choice(_DAYS_FR),
        "time": lambda: f"{rng.randint(8, 18)}:{rng.choice(('00', '15', '30', '45'))}"
                        if not french else f"{rng.randint(8, 18)}h{rng.choice(('00', '15', '30'))}",
        "pct": lambda: str(rng.choice((6, 8, 10, 12, 15, 20))),
        "email": lambda: fill.email(person),
        "phone": lambda: fill.phone("FR" if french else (country if country in ("GB", "US") else "US")),
        "iban": lambda: fill.iban("FR" if french else country),
        "card": fill.card,
        "nir": fill.nir,
    }
    if kind == "aws_key":
        aws_id, aws_secret = fill.aws()
        values["aws_id"] = lambda: aws_id
        values["aws_secret"] = lambda: aws_secret
    # Template order, not a set: str hashes vary between processes and the output must not.
    fields = list(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(template) if name))
    return template.format(**{name: values[name]() for name in fields})
