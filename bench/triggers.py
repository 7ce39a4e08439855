"""Triggered campaigns: from a cancellation reported on the contacts ingress topic to the
retention call's decision on the campaigns topic, p50/p99 at a stated rate.

The contacts worker (ingress) and the campaigns worker run as processes, as deployed; a running
retention campaign (phone, triggered by any cancellation, no delay) and business customers with
a phone number (presumed consent, so each call is authorized) are there before the clock starts;
calling hours are open all day. Cancellations are produced open loop, one customer each, and a
plain consumer notes when each decision (`OutreachAuthorized` or `OutreachBlocked`, ids known in
advance) reaches the campaigns topic. The ceiling is the ingress alone: until a plain consumer
has the `ContractCancelled` on the contacts topic.

`python -m bench.triggers [rate] [seconds]` runs it alone; `make bench` runs it in the table.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.load import open_loop, percentile
from bench.observers import Tap
from bench.stack import Bench
from bench.table import Figure
from campaigns.outbox import event_id
from campaigns.triggers import triggered_outreach_id
from contacts.domain import cancellation_event_id
from dialog_schemas import Envelope
from dialog_schemas.campaigns import (
    CampaignCreated,
    CampaignDefinition,
    CampaignLaunched,
    Trigger,
    TriggerKind,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONTACTS_EVENTS, CONTACTS_INGRESS
from dialog_schemas.common import Channel, CustomerKind, Purpose
from dialog_schemas.contacts import CancellationReported, ContactRegistered
from dialogkit.publishing import KafkaPublisher

MS = 1000
CAMPAIGN = "retention-bench"
OPEN_ALL_DAY = {
    "CAMPAIGNS_CALLING_HOURS_START": "00:00",
    "CAMPAIGNS_CALLING_HOURS_END": "23:59:59",
    "CAMPAIGNS_CALLING_WEEKDAYS": "[0,1,2,3,4,5,6]",
    "CAMPAIGNS_HOLIDAY_COUNTRY": "",
    "CAMPAIGNS_DISPATCH_INTERVAL_S": "0.05",
}


def wrap(event: object, subject: str) -> Envelope:
    return Envelope.wrap(
        event,  # type: ignore[arg-type]
        id=uuid.uuid4(),
        source="/bench",
        subject=subject,
        time=datetime.now(UTC),
    )


async def prepare(publisher: KafkaPublisher, customers: list[str]) -> None:
    """The running retention campaign and the customers, before the clock starts."""
    now = datetime.now(UTC)
    definition = CampaignDefinition(
        name="Retention",
        channel=Channel.PHONE,
        purpose=Purpose.RETENTION,
        message_ref="script-retention",
        trigger=Trigger(on=TriggerKind.CONTRACT_CANCELLED),
    )
    created = CampaignCreated(
        campaign_id=CAMPAIGN,
        name=definition.name,
        channel=definition.channel,
        purpose=definition.purpose,
        created_at=now - timedelta(minutes=1),
        definition=definition,
    )
    launched = CampaignLaunched(campaign_id=CAMPAIGN, launched_at=now - timedelta(minutes=1))
    await publisher.publish(
        CAMPAIGNS_EVENTS.name, [wrap(created, CAMPAIGN), wrap(launched, CAMPAIGN)]
    )
    registered = [
        wrap(
            ContactRegistered(
                kind=CustomerKind.BUSINESS,
                name="Bench GmbH",
                phone_numbers=[f"+4930{20000000 + n}"],
                time_zone="Europe/Berlin",
                registered_at=now - timedelta(days=400),
            ),
            customer,
        )
        for n, customer in enumerate(customers)
    ]
    await publisher.publish(CONTACTS_EVENTS.name, registered)


async def ready(dsn: str, customers: int) -> None:
    """Until the campaigns worker has applied the campaign and every customer."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        while True:
            running = await pool.fetchval(
                "SELECT count(*) FROM campaigns WHERE campaign_id = $1 AND status = 'running'",
                CAMPAIGN,
            )
            known = await pool.fetchval("SELECT count(*) FROM audience_facts")
            if running and known >= customers:
                return
            await asyncio.sleep(0.1)
    finally:
        await pool.close()


async def measure(bench: Bench) -> list[Figure]:
    sizes = bench.sizes
    rate, seconds = sizes.trigger_rate, sizes.trigger_s
    customers = [f"leaving-{n}" for n in range(max(int(rate * seconds), 1))]
    await bench.key_service()
    await bench.start("contacts", "worker", await bench.database("contacts"))
    campaigns = await bench.database("campaigns")
    await bench.start("campaigns", "worker", campaigns, env=OPEN_ALL_DAY)
    publisher = KafkaPublisher(bench.bootstrap, client_id="bench-triggers")
    await publisher.start()
    decisions = Tap(bench.bootstrap, CAMPAIGNS_EVENTS.name)
    canonical = Tap(bench.bootstrap, CONTACTS_EVENTS.name)
    await decisions.start()
    await canonical.start()
    try:
        await prepare(publisher, customers)
        bench.progress.say(f"waiting for the campaign and {len(customers)} customers")
        await ready(campaigns, len(customers))
        bench.progress.say(f"cancellations at {rate:.0f}/s for {seconds:.0f} s")
        latencies, ingress, missing = await run(publisher, decisions, canonical, customers, rate)
    finally:
        await canonical.stop()
        await decisions.stop()
        await publisher.stop()
    return [
        Figure(
            "trigger_latency",
            f"cancellation on the ingress topic → retention call decided, p99, {rate:.0f}/s",
            "within seconds",
            unit="ms",
            value=percentile(latencies, 0.99) * MS if latencies else None,
            ceiling=percentile(ingress, 0.99) * MS if ingress else None,
            ceiling_name="p99 until a plain consumer has the ContractCancelled",
            higher_is_better=False,
            detail=f"{len(latencies)} cancellations, p50 {percentile(latencies, 0.5) * MS:.0f} ms,"
            f" {missing} not decided within 60 s; dispatcher interval 50 ms",
            extra={"p50_ms": percentile(latencies, 0.5) * MS},
            not_measured=None if latencies else "no decision arrived",
        )
    ]


async def run(
    publisher: KafkaPublisher, decisions: Tap, canonical: Tap, customers: list[str], rate: float
) -> tuple[list[float], list[float], int]:
    """Open-loop cancellations; seconds from each one's ack to its decision and to its
    canonical event, and how many were not decided within 60 s."""
    latencies: list[float] = []
    ingress: list[float] = []
    missing = 0

    async def one(n: int, scheduled: float) -> None:
        nonlocal missing
        customer, contract = customers[n], f"contract-{n}"
        cancelled = cancellation_event_id(customer, contract)
        outreach = triggered_outreach_id(CAMPAIGN, customer, cancelled)
        decided = str(event_id(outreach, "decided"))
        arrived = decisions.expect(decided)
        report = CancellationReported(contract_id=contract, cancelled_at=datetime.now(UTC))
        await publisher.publish(CONTACTS_INGRESS.name, [wrap(report, customer)])
        acked = time.perf_counter()
        try:
            await asyncio.wait_for(arrived.wait(), 60)
        except TimeoutError:
            missing += 1
            return
        latencies.append(decisions.seen[decided] - acked)
        if (seen := canonical.seen.get(str(cancelled))) is not None:
            ingress.append(max(seen - acked, 0))

    await open_loop(rate, len(customers) / rate, one)
    return latencies, ingress, missing


async def main(rate: float, seconds: float) -> None:
    from dataclasses import replace

    from bench.__main__ import run as run_bench
    from bench.stack import Sizes
    from bench.table import markdown

    sizes = replace(Sizes(), trigger_rate=rate, trigger_s=seconds)
    work = Path(tempfile.mkdtemp(prefix="dialog-bench-triggers-"))
    figures = await run_bench(sizes, ["triggers"], work, profile=False, together=False)
    print(markdown(figures))


if __name__ == "__main__":
    arguments = [float(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(arguments + [20.0, 10.0][len(arguments) :])))
