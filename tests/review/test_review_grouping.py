"""Grouping of repeated hits, silences marking stored hits, and retention: on real SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from typer.testing import CliRunner

from alerts.audit import CLI_ACTOR
from alerts.model import Alert, AlertStatus, Severity, Verdict, alert_id
from alerts.query import AlertQuery
from alerts.retention import ANONYMISED, RetentionPolicy
from alerts.silences import Matchers, SilenceRequest
from alerts.sql.schema import comments_table, occurrences_table
from alerts.store import SqlAlertStore
from monitor.cli import app as veille

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
WINDOW = timedelta(hours=1)


def hit(post: str, *, rule: str = "fr.pii.email", author: str = "a1", minutes: int = 0,
        jurisdiction: str = "FR", channel: str = "x") -> Alert:  # fmt: skip
    return Alert(
        id=alert_id(post, rule), rule_id=rule, rule_title="t", severity=Severity.HIGH,
        jurisdiction=jurisdiction, source="external", channel=channel, post_id=post, author_id=author,
        author_role="customer", post_created_at=T0 + timedelta(minutes=minutes),
        created_at=T0 + timedelta(minutes=minutes), policy_version="v",
    )  # fmt: skip


def test_repeated_hits_of_one_rule_by_one_author_become_one_alert_and_replays_stay_idempotent(
    database_url: str,
) -> None:
    store = SqlAlertStore.open(database_url, group_window=WINDOW)
    try:
        first = [hit("p1"), hit("p2", minutes=20), hit("p3", minutes=70)]  # p3: 50 min after p2
        other = [hit("p4", author="a2", minutes=5), hit("p5", rule="fr.pii.phone", minutes=5)]
        # p9 is 3 h later: beyond the window of the group's newest hit, a new alert.
        late = hit("p9", minutes=200)
        assert store.add_many([*first, *other, late]) == [a.id for a in [*first, *other, late]]
        # The replay of the same batch, in another order, stores nothing and counts nothing.
        assert store.add_many([late, *reversed(first), *other]) == []

        alerts = {a.id: a for a in store.query(_all()).data}
        assert set(alerts) == {first[0].id, other[0].id, other[1].id, late.id}
        group = alerts[first[0].id]
        assert group.occurrences == 3 and group.last_seen_at == T0 + timedelta(minutes=70)
        assert alerts[late.id].occurrences == 1 and alerts[late.id].last_seen_at is None
        posts = [o["post_id"] for o in store.occurrences(group.id)]
        assert posts == ["p1", "p2", "p3"]

        # A closed group is concluded: a new hit opens a new alert instead of joining it.
        store.transition(group.id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.TRUE_POSITIVE)
        again = hit("p10", minutes=75)
        assert store.add_many([again]) == [again.id]
        assert store.get(again.id) is not None and store.get(group.id).occurrences == 3  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_batch_groups_exactly_as_the_same_hits_stored_one_at_a_time(database_url: str) -> None:
    """The batch is grouped in memory from one lookup; the answer must be the per-hit rule's."""
    rng = random.Random(11)
    plan = [
        (f"{n:03d}", rng.choice(["fr.pii.email", "fr.pii.phone"]), rng.choice("xyz"), rng.randrange(0, 480))
        for n in range(120)
    ]
    # A stored alert of an earlier batch that the new hits may join, one already closed that they may not.
    store = SqlAlertStore.open(database_url, group_window=WINDOW)
    try:
        for side in ("batch", "single"):
            earlier = [hit(f"{side}-old-{a}", author=f"{side}-{a}", minutes=-30) for a in "xy"]
            store.add_many(earlier)
            store.transition(earlier[1].id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.TRUE_POSITIVE)
        hits = {
            side: [hit(f"{side}-{p}", rule=r, author=f"{side}-{a}", minutes=m) for p, r, a, m in plan]
            for side in ("batch", "single")
        }
        stored = store.add_many(list(reversed(hits["batch"])))
        assert sorted(stored) == sorted(h.id for h in hits["batch"])
        for one in sorted(hits["single"], key=lambda h: (h.post_created_at, h.id)):
            assert store.add_many([one]) == [one.id]

        def groups(side: str) -> set[tuple[str, int, object, tuple[str, ...]]]:
            found = store.query(AlertQuery(limit=500)).data
            return {
                (a.post_id.removeprefix(f"{side}-"), a.occurrences, a.last_seen_at,
                 tuple(sorted(o["post_id"].removeprefix(f"{side}-") for o in store.occurrences(a.id))))
                for a in found if a.author_id.startswith(f"{side}-")
            }  # fmt: skip

        batch, single = groups("batch"), groups("single")
        assert batch == single
        # Grouping happened (the window is 1 h over 8 h of hits by 3 authors and 2 rules), and the
        # open alert of the earlier batch was joined while the closed one was not.
        assert 6 <= len(batch) < 60
        joined = next(g for g in batch if g[0] == "old-x")
        assert joined[1] > 1
        assert next(g for g in batch if g[0] == "old-y")[1] == 1
    finally:
        store.close()


def test_without_a_window_every_hit_is_its_own_alert(sqlite_url: str) -> None:
    store = SqlAlertStore.open(sqlite_url)
    try:
        hits = [hit("p1"), hit("p2", minutes=1)]
        assert store.add_many(hits) == [h.id for h in hits]
        assert store.count(_all()) == 2
    finally:
        store.close()


def test_silenced_hits_are_stored_counted_and_marked(database_url: str) -> None:
    store = SqlAlertStore.open(database_url)
    try:
        request = SilenceRequest(
            matchers=Matchers(rule_id="fr.pii.email", channel="teams-hr"),
            reason="HR migration",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        store.create_silence(request, CLI_ACTOR)
        muted, other_channel, other_rule = (
            hit("p1", channel="teams-hr"), hit("p2"), hit("p3", rule="fr.pii.phone", channel="teams-hr")
        )
        assert len(store.add_many([muted, other_channel, other_rule])) == 3
        marks = {a.id: a.silenced for a in store.query(_all()).data}
        assert marks == {muted.id: True, other_channel.id: False, other_rule.id: False}
        assert store.count(_all()) == 3
        assert store.count_by("silenced", _all()) == {"false": 2, "true": 1}
    finally:
        store.close()


def test_retention_anonymises_or_deletes_closed_alerts_past_their_jurisdiction_age(database_url: str) -> None:
    store = SqlAlertStore.open(database_url)
    try:
        fr_old, uk_old, fr_open, us_old = hit("p1"), hit("p2", jurisdiction="UK"), hit("p3"), hit(
            "p4", jurisdiction="US"
        )
        store.add_many([fr_old, uk_old, fr_open, us_old])
        for alert in (fr_old, uk_old, us_old):
            store.transition(alert.id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.BENIGN)
        store.comment(fr_old.id, "the author wrote from claire@example.org", CLI_ACTOR)
        # Closed "now": 40 days later the FR one (30 days) is due, the UK one (365) is not, US uses "*".
        later = datetime.now(UTC) + timedelta(days=40)
        policy = RetentionPolicy.from_settings({"FR": 30, "UK": 365, "*": 10}, "anonymise")

        dry = store.apply_retention(policy, CLI_ACTOR, now=later, dry_run=True)
        assert dry.by_jurisdiction == {"FR": 1, "US": 1} and store.get(fr_old.id).author_id == "a1"  # type: ignore[union-attr]
        report = store.apply_retention(policy, CLI_ACTOR, now=later)
        assert report.by_jurisdiction == {"FR": 1, "US": 1}
        assert report.summary() == "retention: 2 closed alerts anonymised (FR: 1, US: 1)"
        anonymised = store.get(fr_old.id)
        assert anonymised is not None and anonymised.author_id == ANONYMISED
        assert anonymised.verdict is Verdict.BENIGN and anonymised.anonymised_at is not None
        assert store.comments(fr_old.id)[0]["body"] == ANONYMISED
        assert store.get(fr_open.id).author_id == "a1"  # type: ignore[union-attr]  # open: untouched
        assert store.get(uk_old.id).author_id == "a1"  # type: ignore[union-attr]
        # Already anonymised alerts are not counted twice.
        assert store.apply_retention(policy, CLI_ACTOR, now=later).total == 0

        deleting = RetentionPolicy.from_settings({"FR": 30, "UK": 365, "*": 10}, "delete")
        assert store.apply_retention(deleting, CLI_ACTOR, now=later).by_jurisdiction == {"FR": 1, "US": 1}
        assert store.get(fr_old.id) is None and store.get(us_old.id) is None
        with store.engine.connect() as connection:
            for table in (comments_table, occurrences_table):
                rows = connection.execute(sa.select(table).where(table.c.alert_id == fr_old.id)).all()
                assert rows == []
        actions = [e.action for e in store.audit_entries(target=f"alert:{fr_old.id}")]
        assert actions[-2:] == ["retention.anonymise", "retention.delete"]
        assert store.verify_audit().seq > 0
    finally:
        store.close()


def test_retention_cli_reports_what_it_did(sqlite_url: str) -> None:
    store = SqlAlertStore.open(sqlite_url)
    try:
        store.add_many([hit("p1")])
        store.transition(hit("p1").id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.BENIGN)
    finally:
        store.close()
    env = {"VEILLE_DATABASE_URL": sqlite_url, "VEILLE_RETENTION_DAYS": '{"FR": 0}'}
    result = CliRunner().invoke(veille, ["retention", "apply"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "retention: 1 closed alerts anonymised (FR: 1)"
    bad_env = {**env, "VEILLE_RETENTION_DAYS": '{"FR": -1}'}
    bad = CliRunner().invoke(veille, ["retention", "apply"], env=bad_env)
    assert bad.exit_code == 2 and "retention for 'FR' is -1 days" in bad.output


def _all() -> AlertQuery:
    return AlertQuery(limit=100)
