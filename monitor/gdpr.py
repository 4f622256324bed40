"""The facts of Veille's processing of personal data, gathered from the packs and settings in force.

One function, :func:`gather_facts`, reads the configuration (never the alerts) and returns a
:class:`ProcessingFacts`; ``monitor.gdpr_render`` turns it into the GDPR art. 30 record of processing,
the facts a DPIA (art. 35) needs and the employees' information notice (Code du travail L1222-4).
Nothing is written by hand: change a pack or a setting, and the next ``veille gdpr ...`` says so.
"""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from alerts.privacy import AUTHOR_REVEAL_APPROVERS, MINIMISATION
from alerts.retention import RetentionRule, resolve
from alerts.tokens import Role
from monitor.settings import Settings
from policies.loader import PolicySet
from policies.personal import PersonalMarkers
from policies.schema import PURPOSES

# Lawful basis (art. 6) a controller would usually rely on per purpose: a starting point for the DPO.
LAWFUL_BASIS = {
    "regulatory_supervision": "legal obligation (art. 6(1)(c)): supervision of communications the "
    "regulations in force require",
    "information_security": "legitimate interests (art. 6(1)(f)): security of the information system "
    "(art. 32)",
    "reputation": "legitimate interests (art. 6(1)(f)): protection of the organisation's reputation",
}
# What each entity the detectors find is, in the words of a record of processing.
DATA_CATEGORIES = {
    "EMAIL_ADDRESS": "contact details (e-mail address)",
    "PHONE_NUMBER": "contact details (phone number)",
    "CREDIT_CARD": "financial data (payment card number)",
    "IBAN_CODE": "financial data (bank account number)",
    "IP_ADDRESS": "connection data (IP address)",
    "URL": "connection data (web address)",
    "US_SSN": "national identification number (US Social Security number)",
    "US_ITIN": "national identification number (US taxpayer number)",
    "US_PASSPORT": "identity document number (US passport)",
    "UK_NINO": "national identification number (UK National Insurance number)",
    "UK_NHS": "health identifier (NHS number)",
    "FR_NIR": "national identification number (French NIR)",
    "FR_SIREN": "business identifier (SIREN)",
    "FR_SIRET": "business identifier (SIRET)",
    "FR_ID_CARD": "identity document number (French identity card)",
    "FR_PASSPORT": "identity document number (French passport)",
    "PERSON": "names of people mentioned",
    "LOCATION": "places mentioned",
}
ALWAYS_PROCESSED = (
    "content of the monitored messages (text, language), read by the detectors and not kept beyond "
    "the evidence of an alert",
    "author identifier, role, employee status and country",
    "channel, source (internal or external) and time of each message",
)
ROLE_ACCESS = {
    Role.REVIEWER: "first-level review: every alert of its scope, masked evidence, authors pseudonymised "
    "where the pack says so; no reveal",
    Role.PRINCIPAL: "second-level review: as officer; approves four-eyes closures and reveals",
    Role.OFFICER: "every alert of its scope, masked evidence; reveals spans and authors with a justification",
    Role.ADMIN: "as officer, plus tokens and the audit log",
    Role.COMMS: "e-reputation alerts only, authors pseudonymised, no personal-data evidence",
    Role.OPS: "health and counts, never content",
}


class Purpose(BaseModel):
    name: str
    lawful_basis: str
    rules: list[str]
    keeps: str = Field(description="what its alerts keep (alerts.privacy.MINIMISATION)")


class Jurisdiction(BaseModel):
    code: str
    rules: int
    skips_personal_messages: bool
    personal_markers: list[str]
    personal_channels: list[str]
    pseudonymises_authors: bool


class ProcessingFacts(BaseModel):
    controller: str = "[name and address of the controller]"
    dpo: str = "[contact of the data protection officer]"
    policy_version: str
    purposes: list[Purpose]
    data_categories: list[str]
    special_categories: list[str] = Field(description="art. 9 categories some active rule looks for")
    data_subjects: list[str]
    recipients: list[str]
    retention: list[RetentionRule]
    security_measures: list[str]
    jurisdictions: list[Jurisdiction]
    channels: list[str] = Field(description="input topics and configured channels")
    sampling: list[str] = Field(description="sampling of posts without alerts, where configured")
    reveals: list[str] = Field(description="who can reveal what")


def sampling_facts(policies: PolicySet) -> list[str]:
    """One line per sampling population of the active packs: where, who, and at what rate."""
    lines = []
    for plan in sorted(policies.plans.values(), key=lambda p: p.jurisdiction):
        for population in plan.sampling:
            criteria = [
                f"{name} {', '.join(sorted(values))}"
                for name, values in (
                    ("author role", population.author_role), ("channel", population.channel),
                    ("source", population.source), ("jurisdiction", population.jurisdiction),
                )
                if values is not None
            ]
            who = "; ".join(criteria) or "every post"
            lines.append(
                f"{plan.jurisdiction}: population {population.name} ({who}): {population.percent:g} % of "
                "the posts that raised no alert, drawn at random for a reviewer"
            )
    return lines


def retention_facts(settings: Settings, policies: PolicySet) -> list[RetentionRule]:
    """Each jurisdiction's period as ``veille retention policy`` resolves it (packs, overlays, setting)."""
    return resolve(policies, settings.retention_overrides, settings.retention_mode)[1]


def regulatory_minimum(policies: PolicySet, jurisdiction: str) -> tuple[int, str] | None:
    """``(days, source)`` when a regulation requires keeping this jurisdiction's communications (its
    pack's ``retention: {required: true}``; PR through US): an operator's override cannot lower it."""
    found = policies.plan_for(jurisdiction).retention
    return (found.days, found.source) if found is not None and found.required else None


def _tls(url: str) -> bool:
    scheme = urlsplit(url).scheme
    return scheme in ("https", "wss") or "sslmode=require" in url or "sslmode=verify" in url


def gather_facts(settings: Settings, policies: PolicySet) -> ProcessingFacts:
    by_purpose: dict[str, list[str]] = defaultdict(list)
    entities: set[str] = set()
    patterns: set[str] = set()
    detectors: set[str] = set()
    special: set[str] = set()
    sources: set[str] = set()
    # Incubating rules read posts too (counted, no alert): they process data for their purpose.
    for _plan, rule in policies.rules():
        by_purpose[rule.spec.purpose or "unspecified"].append(rule.id)
        sources.update(rule.spec.sources)
        if "special-category" in rule.spec.tags:
            special.add(rule.spec.title)
    for plan in policies.plans.values():
        entities |= plan.detector_plan.pii_entities
        patterns |= plan.detector_plan.patterns
        detectors |= plan.detector_plan.detectors
    if settings.brands:
        by_purpose["reputation"].append("e-reputation windows (counts per brand, never authors)")
    purposes = [
        Purpose(name=name, lawful_basis=LAWFUL_BASIS.get(name, "[to be stated: the rule gives no purpose]"),
                rules=sorted(by_purpose[name]), keeps=_keeps(name))
        for name in [*PURPOSES, "unspecified"] if by_purpose.get(name)
    ]
    categories = list(ALWAYS_PROCESSED)
    categories += sorted({DATA_CATEGORIES.get(e, f"other identifier ({e})") for e in entities})
    if patterns:
        categories.append(f"credentials and secrets ({', '.join(sorted(patterns))})")
    if "sentiment" in detectors:
        categories.append("opinion expressed (sentiment score)")
    if "classifier" in detectors:
        categories.append("risk classification scores of the message")
    subjects = []
    if "internal" in sources:
        subjects.append("employees writing on internal channels")
    if "external" in sources:
        subjects.append("employees and external people posting on public channels")
    if entities:
        subjects.append("third parties whose data appears in a message")
    recipients = [f"role {role.value}: {ROLE_ACCESS[role]}" for role in Role]
    recipients.append(f"Kafka topic {settings.alerts_topic} (alerts, masked evidence)")
    if settings.alertmanager_url:
        recipients.append("Alertmanager (alert notifications)")
    recipients += [f"signed webhook {urlsplit(url).netloc}" for url in settings.webhook_urls]
    jurisdictions = [
        Jurisdiction(code=plan.jurisdiction, rules=len(plan.rules),
                     skips_personal_messages=plan.personal.skip,
                     personal_markers=_markers(plan.personal) if plan.personal.skip else [],
                     personal_channels=sorted(plan.personal.channels),
                     pseudonymises_authors=plan.pseudonymise_authors)
        for plan in sorted(policies.plans.values(), key=lambda p: p.jurisdiction)
    ]
    return ProcessingFacts(
        policy_version=policies.version,
        purposes=purposes,
        data_categories=categories,
        special_categories=sorted(special),
        data_subjects=subjects,
        recipients=recipients,
        retention=retention_facts(settings, policies),
        security_measures=_security(settings),
        jurisdictions=jurisdictions,
        channels=[f"topic {t}" for t in settings.input_topics]
        + [f"channel {c} → {j}" for c, j in sorted(settings.channel_jurisdictions.items())],
        sampling=sampling_facts(policies),
        reveals=_reveals(settings),
    )


def _markers(personal: PersonalMarkers) -> list[str]:
    return [*personal.prefixes, *(f"metadata.{flag}" for flag in personal.flags)]


def _keeps(purpose: str) -> str:
    rule = MINIMISATION.get(purpose)
    if rule is None:
        return "everything the rule matched (no minimisation without a purpose)"
    spans = ", ".join(sorted(rule.span_detectors | rule.span_types))
    kept = f"raw personal-data spans of {spans} for an audited reveal" if spans else "no raw personal span"
    author = "the author's id" if rule.author_id else "a pseudonym of the author, never the id"
    return f"masked evidence; {kept}; {author}"


def _security(settings: Settings) -> list[str]:
    measures = [
        "API tokens stored as hashes only, with expiry and revocation",
        "hash-chained audit log of every view and change of an alert"
        + (f", checkpointed to {settings.audit_anchor_file}" if settings.audit_anchor_file else ""),
        "personal data masked in evidence by type; raw spans only through a justified, audited reveal",
        f"evidence bounded to {settings.evidence_max_spans} spans and {settings.evidence_max_bytes} bytes "
        "per alert",
        "no message text or personal data in logs or metric labels",
        f"retention: alerts {settings.retention_mode}d after their period",
    ]
    if settings.pseudonym_key is not None:
        measures.append("stable keyed pseudonyms (HMAC-SHA256) for authors")
    if settings.author_reveal_approval:
        measures.append("revealing an author needs a second person's approval")
    links = {"database": settings.resolved_database_url, "Alertmanager": settings.alertmanager_url or "",
             **{f"webhook {urlsplit(u).netloc}": u for u in settings.webhook_urls}}
    tls = sorted(name for name, url in links.items() if url and _tls(url))
    if tls:
        measures.append("TLS on connections to: " + ", ".join(tls))
    return measures


def _reveals(settings: Settings) -> list[str]:
    approvers = ", ".join(sorted(AUTHOR_REVEAL_APPROVERS))
    never = ", ".join(sorted(role.value for role in Role if role not in AUTHOR_REVEAL_APPROVERS))
    return [
        f"{approvers}: raw personal-data spans of an alert, with a written justification (audited)",
        f"{approvers}: the identity behind a pseudonymised author, with a written justification "
        "(audited)" + (f", after approval by another {approvers}" if settings.author_reveal_approval else ""),
        f"{never}: never",
    ]
