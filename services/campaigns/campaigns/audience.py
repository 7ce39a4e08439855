"""Audiences: which customers a campaign addresses, decided over the facts the worker keeps.

A customer is in an audience when the rule matches their facts (or they are included by id) and
they are not excluded by id. Whatever the rule says, an advertising campaign never reaches a
customer who objected to direct marketing (GDPR Art. 21) or was erased (Art. 17), and no
campaign reaches a customer without a contact point on its channel. A merged duplicate is its
survivor: ids are resolved before they are looked up, so each person counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import available_timezones

from dialog_schemas.campaigns import Audience, AudienceRule, RecencyRule
from dialog_schemas.common import Channel, CustomerKind, Purpose


@dataclass(frozen=True)
class CustomerFacts:
    """What the campaigns worker knows about a customer from the contacts, consent and
    interactions topics (no personal data besides which channels have a contact point)."""

    customer_id: str
    kind: CustomerKind | None = None
    registered_at: datetime | None = None
    customer_since: date | None = None
    held: frozenset[str] = frozenset()
    """Categories of products bought and contracts running."""
    cancelled: Mapping[str, datetime] = field(default_factory=dict)
    """Category -> latest cancellation of a contract of that category."""
    interests: frozenset[str] = frozenset()
    time_zone: str | None = None
    last_contact: Mapping[Channel, datetime] = field(default_factory=dict)
    last_response: Mapping[Channel, datetime] = field(default_factory=dict)
    reachable_on: frozenset[Channel] = frozenset()
    """Channels on which the customer has a contact point."""
    objected: bool = False
    erased: bool = False


class Exclusion(StrEnum):
    """Why a customer is not in an audience."""

    NOT_MATCHED = "not_matched"
    EXCLUDED = "excluded"
    OBJECTION = "objection"
    ERASED = "erased"
    NO_CONTACT_POINT = "no_contact_point"
    UNKNOWN = "unknown"


def matches(rule: AudienceRule, facts: CustomerFacts, now: datetime) -> bool:
    """Every condition of the rule holds for these facts (conditions left out always hold)."""
    checks = (
        not rule.kinds or facts.kind in rule.kinds,
        rule.customer_for_days is None or _tenure_days(facts, now) >= rule.customer_for_days,
        not rule.holds_any or bool(facts.held & set(rule.holds_any)),
        not facts.held & set(rule.holds_none),
        _cancelled(rule, facts, now),
        not rule.interests_any or bool(facts.interests & set(rule.interests_any)),
        not rule.time_zones or _in_zones(facts.time_zone, rule.time_zones),
        rule.not_contacted is None or not _recent(facts.last_contact, rule.not_contacted, now),
        rule.responded is None or _recent(facts.last_response, rule.responded, now),
    )
    return all(checks)


def exclusion(
    audience: Audience,
    facts: CustomerFacts | None,
    channel: Channel,
    purpose: Purpose,
    now: datetime,
) -> Exclusion | None:
    """Why this customer (their survivor's facts) is not in the audience; None if they are."""
    if facts is None:
        return Exclusion.UNKNOWN
    if facts.customer_id in audience.exclude_ids:
        return Exclusion.EXCLUDED
    included = facts.customer_id in audience.include_ids
    if not included and (audience.rule is None or not matches(audience.rule, facts, now)):
        return Exclusion.NOT_MATCHED
    if facts.erased:
        return Exclusion.ERASED
    if facts.objected and purpose.is_advertising:
        return Exclusion.OBJECTION
    if channel not in facts.reachable_on:
        return Exclusion.NO_CONTACT_POINT
    return None


def select(
    audience: Audience,
    facts: Mapping[str, CustomerFacts],
    survivors: Mapping[str, str],
    channel: Channel,
    purpose: Purpose,
    now: datetime,
) -> list[str]:
    """The audience's customer ids (survivors, each once, sorted).

    `facts` holds the candidates the rule is tried on (keyed by survivor id); `survivors` maps
    every id the audience names to its survivor (itself unless merged)."""
    excluded = {survivors.get(c, c) for c in audience.exclude_ids}
    effective = audience.model_copy(
        update={
            "include_ids": sorted({survivors.get(c, c) for c in audience.include_ids}),
            "exclude_ids": sorted(excluded),
        }
    )
    candidates = set(effective.include_ids)
    if audience.rule is not None:
        candidates.update(facts)
    return sorted(
        c for c in candidates if exclusion(effective, facts.get(c), channel, purpose, now) is None
    )


def _tenure_days(facts: CustomerFacts, now: datetime) -> int:
    since = facts.customer_since or (facts.registered_at.date() if facts.registered_at else None)
    return -1 if since is None else (now.date() - since).days


def _cancelled(rule: AudienceRule, facts: CustomerFacts, now: datetime) -> bool:
    if not rule.cancelled_any:
        return True
    times = [facts.cancelled[c] for c in rule.cancelled_any if c in facts.cancelled]
    if not times:
        return False
    days = rule.cancelled_within_days
    return days is None or max(times) >= now - timedelta(days=days)


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def unknown_zones(wanted: Iterable[str]) -> list[str]:
    """The entries of a rule's `time_zones` that match no zone of the zone database: neither a
    zone (`Europe/Berlin`) nor a region prefix ending in '/' that some zone starts with."""
    zones = _known_zones()
    return [
        w
        for w in wanted
        if w not in zones and not (w.endswith("/") and any(z.startswith(w) for z in zones))
    ]


def _in_zones(zone: str | None, wanted: Iterable[str]) -> bool:
    if zone is None:
        return False
    return any(zone == w or (w.endswith("/") and zone.startswith(w)) for w in wanted)


def _recent(last: Mapping[Channel, datetime], rule: RecencyRule, now: datetime) -> bool:
    times = [t for c, t in last.items() if rule.channel is None or c == rule.channel]
    return bool(times) and max(times) >= now - timedelta(days=rule.within_days)
