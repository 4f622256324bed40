"""Three documents from one :class:`monitor.gdpr.ProcessingFacts`: the art. 30 record, the DPIA facts,
and the employees' information notice (French or English). Markdown; ``--json`` prints the facts."""

from __future__ import annotations

from monitor.gdpr import ALWAYS_PROCESSED, ProcessingFacts


def _bullets(items: list[str], empty: str = "none") -> list[str]:
    return [f"- {item}" for item in items] or [f"- {empty}"]


def _purposes(facts: ProcessingFacts) -> list[str]:
    lines = []
    for p in facts.purposes:
        lines += [f"### {p.name}", f"- lawful basis: {p.lawful_basis}", f"- alerts keep: {p.keeps}",
                  f"- rules ({len(p.rules)}): {', '.join(p.rules)}", ""]
    return lines


def _retention(facts: ProcessingFacts) -> list[str]:
    lines = ["| jurisdiction | days | then | source |", "|---|---|---|---|"]
    lines += [f"| {r.jurisdiction} | {r.days} | {r.mode} | {r.source}"
              + (f" (**{r.conflict}**)" if r.conflict else "") + " |" for r in facts.retention]
    return lines


def render_record(facts: ProcessingFacts) -> str:
    """GDPR art. 30(1): the record of processing activities for the monitoring Veille performs."""
    lines = [
        "# Record of processing activities (GDPR art. 30): communications monitoring (Veille)", "",
        f"Generated from policy version {facts.policy_version} and the settings in force.", "",
        "## Controller", f"- controller: {facts.controller}", f"- data protection officer: {facts.dpo}", "",
        "## Purposes", *_purposes(facts),
        "## Categories of personal data", *_bullets(facts.data_categories), "",
        "## Special categories (art. 9) some rule looks for", *_bullets(facts.special_categories), "",
        "## Categories of data subjects", *_bullets(facts.data_subjects), "",
        "## Recipients", *_bullets(facts.recipients), "",
        "## Transfers outside the EEA", "- [to be completed by the controller]", "",
        "## Retention", *_retention(facts), "",
        "## Technical and organisational security measures", *_bullets(facts.security_measures), "",
    ]
    return "\n".join(lines)


def render_dpia(facts: ProcessingFacts) -> str:
    """The facts an impact assessment (art. 35; CNIL: constant monitoring of employees) starts from."""
    monitored = [
        f"{j.code}: {j.rules} rules; personal messages "
        + (f"skipped (markers: {', '.join(j.personal_markers) or 'none'}"
           + (f"; channels: {', '.join(j.personal_channels)}" if j.personal_channels else "") + ")"
           if j.skips_personal_messages else "analysed")
        + ("; authors pseudonymised for reviewers" if j.pseudonymises_authors else "")
        for j in facts.jurisdictions
    ]
    lines = [
        "# Data protection impact assessment: facts from the configuration (GDPR art. 35)", "",
        f"Policy version {facts.policy_version}. The assessment of necessity, proportionality (Code du "
        "travail L1121-1) and risks, and the consultation of the works council, remain the controller's.", "",
        "## What is monitored, on which channels", *_bullets(facts.channels), "",
        "## Per jurisdiction", *_bullets(monitored), "",
        "## Sampling of messages that raised no alert", *_bullets(facts.sampling, "not configured"), "",
        "## Who can reveal what", *_bullets(facts.reveals), "",
        "## Purposes", *_purposes(facts),
        "## Categories of personal data", *_bullets(facts.data_categories), "",
        "## Special categories (art. 9)", *_bullets(facts.special_categories), "",
        "## Data subjects", *_bullets(facts.data_subjects), "",
        "## Recipients", *_bullets(facts.recipients), "",
        "## Retention", *_retention(facts), "",
        "## Measures already in place", *_bullets(facts.security_measures), "",
    ]
    return "\n".join(lines)


_NOTICE = {
    "en": {
        "title": "# Information notice: monitoring of communications",
        "intro": "Before any monitoring starts, you are told what is done with your messages "
        "(French Labour Code L1222-4; GDPR art. 13).",
        "controller": "Controller: {controller}. Data protection officer: {dpo}.",
        "why": "## Why", "what": "## What is analysed", "personal": "## Your personal messages",
        "personal_skip": "In {codes}, a message you mark as personal is not analysed: it is counted, "
        "never read by the detectors nor kept. Start its subject or text with one of: {markers}.",
        "personal_none": "No jurisdiction in use leaves personal messages unanalysed.",
        "who": "## Who sees what", "keep": "## How long", "rights": "## Your rights",
        "rights_text": "You may ask for access to, rectification or erasure of the data about you (GDPR "
        "art. 15-17), within the limits of legal retention obligations, from the data protection "
        "officer; you may lodge a complaint with the supervisory authority (in France, the CNIL).",
        "days": "{code}: {days} days, then {mode}",
        "pseudo": "In {codes}, reviewers see a pseudonym instead of your identity; revealing it is a "
        "justified, recorded action.",
    },
    "fr": {
        "title": "# Note d'information : contrôle des communications",
        "intro": "Avant toute mise en œuvre, vous êtes informé(e) de ce qui est fait de vos "
        "messages (Code du travail L1222-4 ; RGPD art. 13).",
        "controller": "Responsable du traitement : {controller}. "
        "Délégué à la protection des données : {dpo}.",
        "why": "## Finalités", "what": "## Ce qui est analysé", "personal": "## Vos messages personnels",
        "personal_skip": "En {codes}, un message que vous identifiez comme personnel n'est pas analysé : "
        "il est compté, jamais lu par les détecteurs ni conservé. Commencez son objet ou son texte par "
        "l'un de : {markers}.",
        "personal_none": "Aucune juridiction en service n'exclut les messages personnels de l'analyse.",
        "who": "## Qui voit quoi", "keep": "## Durée de conservation", "rights": "## Vos droits",
        "rights_text": "Vous pouvez demander l'accès, la rectification ou l'effacement des données vous "
        "concernant (RGPD art. 15 à 17), dans la limite des obligations légales de conservation, auprès "
        "du délégué à la protection des données ; vous pouvez saisir la CNIL.",
        "days": "{code} : {days} jours, puis {mode}",
        "pseudo": "En {codes}, les personnes chargées de l'examen voient un pseudonyme au lieu de votre "
        "identité ; la lever est une action justifiée et tracée.",
    },
}
_PURPOSE_WORDS = {
    "en": {"regulatory_supervision": "supervision of communications required by regulation",
           "information_security": "security of information (leaked secrets, confidential documents)",
           "reputation": "protection of the organisation's reputation"},
    "fr": {"regulatory_supervision": "contrôle des communications imposé par la réglementation",
           "information_security": "sécurité de l'information (secrets divulgués, documents confidentiels)",
           "reputation": "protection de la réputation de l'organisation"},
}


# The facts' own words (monitor.gdpr) for a French reader; a fact without a translation stays as it is.
_FR = {
    ALWAYS_PROCESSED[0]: "contenu des messages contrôlés (texte, langue), lu par les détecteurs et conservé "
    "seulement comme preuve d'une alerte",
    ALWAYS_PROCESSED[1]: "identifiant, fonction, qualité de salarié et pays de l'auteur",
    ALWAYS_PROCESSED[2]: "canal, source (interne ou externe) et date de chaque message",
    "contact details (e-mail address)": "coordonnées (adresse électronique)",
    "contact details (phone number)": "coordonnées (numéro de téléphone)",
    "financial data (payment card number)": "données financières (numéro de carte de paiement)",
    "financial data (bank account number)": "données financières (numéro de compte bancaire)",
    "connection data (IP address)": "données de connexion (adresse IP)",
    "connection data (web address)": "données de connexion (adresse web)",
    "national identification number (French NIR)": "numéro d'identification (NIR)",
    "identity document number (French identity card)": "numéro de pièce d'identité (carte nationale)",
    "identity document number (French passport)": "numéro de pièce d'identité (passeport)",
    "health identifier (NHS number)": "identifiant de santé (numéro NHS)",
    "national identification number (UK National Insurance number)": "numéro d'identification (National "
    "Insurance, Royaume-Uni)",
    "national identification number (US Social Security number)": "numéro d'identification (Social "
    "Security, États-Unis)",
    "national identification number (US taxpayer number)": "numéro fiscal (ITIN, États-Unis)",
    "identity document number (US passport)": "numéro de pièce d'identité (passeport américain)",
    "business identifier (SIREN)": "identifiant d'entreprise (SIREN)",
    "business identifier (SIRET)": "identifiant d'établissement (SIRET)",
    "names of people mentioned": "noms des personnes citées",
    "places mentioned": "lieux cités",
    "opinion expressed (sentiment score)": "opinion exprimée (score de tonalité)",
    "risk classification scores of the message": "scores de classification du risque du message",
}
_FR_PREFIXES = {
    "credentials and secrets (": "identifiants et secrets (",
    ": raw personal-data spans of an alert, with a written justification (audited)":
    " : données personnelles d'une alerte, sur justification écrite (tracé)",
    ": the identity behind a pseudonymised author, with a written justification (audited)":
    " : identité d'un auteur pseudonymisé, sur justification écrite (tracé)",
    ": never": " : jamais",
    ", after approval by another ": ", après accord d'un autre ",
}
_FR_MODES = {"anonymise": "anonymisation", "delete": "suppression"}


def _in(lang: str, text: str) -> str:
    if lang != "fr":
        return text
    if text in _FR:
        return _FR[text]
    for english, french in _FR_PREFIXES.items():
        text = text.replace(english, french)
    return text


def render_notice(facts: ProcessingFacts, lang: str) -> str:
    """The employees' information notice, in ``lang`` (fr or en)."""
    t, words = _NOTICE[lang], _PURPOSE_WORDS[lang]
    skipping = [j for j in facts.jurisdictions if j.skips_personal_messages]
    markers = sorted({m for j in skipping for m in j.personal_markers if not m.startswith("metadata.")})
    pseudo = [j.code for j in facts.jurisdictions if j.pseudonymises_authors]
    lines = [
        t["title"], "", t["intro"], "",
        t["controller"].format(controller=facts.controller, dpo=facts.dpo), "",
        t["why"], *_bullets([words.get(p.name, p.name) for p in facts.purposes]), "",
        t["what"], *_bullets([_in(lang, c) for c in facts.data_categories]), "",
        t["personal"],
        t["personal_skip"].format(codes=", ".join(j.code for j in skipping), markers=", ".join(markers))
        if skipping else t["personal_none"], "",
        t["who"], *_bullets([_in(lang, r) for r in facts.reveals]),
        *([t["pseudo"].format(codes=", ".join(pseudo))] if pseudo else []), "",
        t["keep"], *_bullets([t["days"].format(code=r.jurisdiction, days=r.days,
                                               mode=_FR_MODES[r.mode] if lang == "fr" else r.mode)
                              for r in facts.retention]), "",
        t["rights"], t["rights_text"], "",
    ]
    return "\n".join(lines)
