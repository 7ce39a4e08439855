"""The §7a UWG proof bundle: everything that shows a customer's consents were valid, in order."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

import orjson

from consentledger.domain import ConsentState
from consentledger.store import Connection, event_of
from dialog_schemas import Event
from dialog_schemas.consent import ConsentConfirmed, ConsentExpired, ConsentRevoked, ConsentUsed
from dialogkit.keys import KeyDestroyed
from dialogkit.pii import PersonalDataCipher

RETENTION_YEARS = 5


PER_CONSENT: dict[type[Event], str] = {
    ConsentConfirmed: "confirmations",
    ConsentUsed: "uses",
    ConsentRevoked: "withdrawals",
    ConsentExpired: "expiry",
}


def plus_years(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year + years)
    except ValueError:  # 29 February into a year without it
        return at.replace(year=at.year + years, day=28)


async def proof_bundle(
    db: Connection, customer_id: str, state: ConsentState, now: datetime
) -> dict[str, Any]:
    """Every consent with its evidence, confirmations, uses, withdrawals; objections; in order."""
    rows = await db.fetch(
        "SELECT event_id, type, schema_version, effective_at, recorded_at, source, data"
        " FROM consent_history WHERE customer_id = $1 ORDER BY partition, kafka_offset",
        customer_id,
    )
    timeline = []
    per_consent: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        event = event_of(row["type"], row["schema_version"], row["data"])
        entry = {
            "event_id": str(row["event_id"]),
            "type": row["type"],
            "effective_at": row["effective_at"],
            "recorded_at": row["recorded_at"],
            "source": row["source"],
            "data": event.model_dump(mode="json"),
        }
        timeline.append(entry)
        if isinstance(event, ConsentConfirmed | ConsentUsed | ConsentRevoked | ConsentExpired):
            kind = PER_CONSENT[type(event)]
            per_consent.setdefault(str(event.consent_id), {}).setdefault(kind, []).append(entry)
    consents = []
    for consent in sorted(state.consents.values(), key=lambda c: c.granted_at):
        related = per_consent.get(str(consent.consent_id), {})
        last_use = consent.last_used_at or consent.granted_at
        consents.append(
            {
                "consent_id": str(consent.consent_id),
                "channel": consent.channel,
                "purpose": consent.purpose,
                "contact_point": consent.contact_point,
                "granted_at": consent.granted_at,
                "evidence": consent.evidence.model_dump(mode="json"),
                "confirmations": related.get("confirmations", []),
                "uses": related.get("uses", []),
                "withdrawals": related.get("withdrawals", []),
                "expiry": related.get("expiry", []),
                "retain_until": plus_years(max(consent.granted_at, last_use), RETENTION_YEARS),
            }
        )
    bundle = {
        "customer_id": customer_id,
        "customer_kind": state.kind,
        "generated_at": now,
        "retention_rule": "each consent's proof is kept until max(grant, last use) + 5 years",
        "objection_in_force": state.objecting,
        "consents": consents,
        "objections": [e for e in timeline if "Objection" in e["type"]],
        "suppressions": [e for e in timeline if e["type"] == "ContactPointSuppressed"],
        "events": timeline,
    }
    document: dict[str, Any] = orjson.loads(orjson.dumps(bundle))
    return document


def render_html(bundle: dict[str, Any]) -> str:
    """A plain, printable rendering of the bundle for a regulator."""

    def cell(value: Any) -> str:
        if isinstance(value, (dict, list)):
            return f"<pre>{escape(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())}</pre>"
        return escape("" if value is None else str(value))

    consents = "".join(
        "<section><h2>Consent {id}</h2><table>{rows}</table></section>".format(
            id=escape(c["consent_id"]),
            rows="".join(
                f"<tr><th>{escape(k.replace('_', ' '))}</th><td>{cell(v)}</td></tr>"
                for k, v in c.items()
                if k != "consent_id"
            ),
        )
        for c in bundle["consents"]
    )
    events = "".join(
        f"<tr><td>{cell(e['effective_at'])}</td><td>{cell(e['type'])}</td>"
        f"<td>{cell(e['recorded_at'])}</td><td>{cell(e['source'])}</td>"
        f"<td>{cell(e['data'])}</td></tr>"
        for e in bundle["events"]
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Consent proof for {escape(bundle['customer_id'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:4px;text-align:left;vertical-align:top}</style>"
        "</head><body>"
        f"<h1>Consent proof for customer {escape(bundle['customer_id'])}</h1>"
        f"<p>Generated {cell(bundle['generated_at'])}. Customer kind: "
        f"{cell(bundle['customer_kind'])}. Objection in force: "
        f"{'yes' if bundle['objection_in_force'] else 'no'}. {escape(bundle['retention_rule'])}."
        f"</p>{consents}<h2>All events in order</h2><table><tr><th>effective</th><th>event</th>"
        f"<th>recorded</th><th>source</th><th>data</th></tr>{events}</table></body></html>"
    )


async def open_contact_points(
    bundle: dict[str, Any], owners: list[str], cipher: PersonalDataCipher
) -> dict[str, Any]:
    """Contact points sealed in the grants, readable again; None once the customer was erased.

    `owners` are the customer and the duplicates merged into it: a grant recorded for a
    duplicate was sealed with the duplicate's key."""
    for consent in bundle["consents"]:
        sealed = consent["contact_point"]
        if isinstance(sealed, str):
            consent["contact_point"] = None
            for owner in owners:
                try:
                    opened = await cipher.open(owner, {"contact_point": sealed})
                except (KeyDestroyed, ValueError):
                    continue  # erased, or sealed for another owner
                consent["contact_point"] = opened["contact_point"]
                break
    return bundle
