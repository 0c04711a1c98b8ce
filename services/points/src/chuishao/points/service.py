"""The points service's handlers: ticket events into the ledger, exchanges, reads."""

import asyncio
from typing import Any

import structlog
from nats.aio.client import Client
from pydantic import ValidationError

from chuishao.common import subjects
from chuishao.common.clock import Clock
from chuishao.common.errors import invalid_request, nats_error_reply, nats_refusal
from chuishao.common.events import Event, PointsExchanged
from chuishao.common.privacy import mask_text
from chuishao.points.api import ExchangePoints, PointsAccount, PointsAccountQuery
from chuishao.points.policy import PointsPolicy
from chuishao.points.settings import PointsSettings
from chuishao.points.store import PointsStore

PRODUCER = "points"
log = structlog.get_logger()


class Points:
    def __init__(
        self, store: PointsStore, policy: PointsPolicy, clock: Clock, settings: PointsSettings
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.settings = settings
        self.nats: Client | None = None

    async def on_ticket_event(self, event: Event) -> None:
        change = await self.store.apply(event)
        if change is not None and change.entries:
            log.info(
                "points_changed",
                ticket_id=change.report.ticket_id,
                reporter_ref=change.reporter_ref,
                lines=[(e.kind, e.reason, e.points) for e in change.entries],
            )

    async def exchange(self, body: bytes) -> dict[str, Any]:
        try:
            command = ExchangePoints.model_validate_json(body)
        except ValidationError as error:
            return nats_error_reply(invalid_request(error))
        event = PointsExchanged(
            event_id=command.exchange_id,
            occurred_at=self.clock.now(),
            producer=PRODUCER,
            person=command.person,
            reporter_ref=command.reporter_ref,
            points=command.points,
            # Typed by a clerk: a phone number in it never reaches the stream.
            goods=mask_text(command.goods),
            centre=mask_text(command.centre),
            balance_after=0,
        )
        debit = await self.store.debit(event)
        if debit.outcome == "short":
            return nats_refusal(
                "insufficient_points",
                f"积分不足：当前余额 {debit.balance}，需要 {command.points}",
                f"Not enough points: the balance is {debit.balance}, {command.points} needed",
                field="points",
            )
        assert debit.event is not None
        if debit.outcome == "seen" and (
            debit.event.reporter_ref != command.reporter_ref or debit.event.points != command.points
        ):
            return nats_refusal(
                "conflict",
                "该兑换编号已用于另一笔兑换",
                "This exchange id was used for another exchange",
                field="exchange_id",
            )
        await self.publish(debit.event)  # a retry ("seen") publishes again: same msg id
        log.info(
            "points_exchanged",
            reporter_ref=command.reporter_ref,
            points=command.points,
            exchange_id=command.exchange_id,
            repeated=debit.outcome == "seen",
        )
        return {"ok": True, "exchange": debit.event.model_dump(mode="json")}

    async def publish(self, event: PointsExchanged) -> None:
        """Into POINTS, then forget it is pending; a failure leaves it to the relay."""
        assert self.nats is not None
        js = self.nats.jetstream()
        await js.publish(
            subjects.points_exchanged(event.reporter_ref),
            event.model_dump_json().encode(),
            timeout=self.settings.points_publish_timeout_seconds,
            headers={"Nats-Msg-Id": event.event_id, "Chuishao-Event-Type": event.type},
        )
        await self.store.confirmed(event.event_id)

    async def relay(self) -> None:
        for event in await self.store.pending(self.settings.points_relay_after_seconds):
            await self.publish(event)
            log.info("points_exchange_relayed", exchange_id=event.event_id)

    async def account(self, body: bytes) -> dict[str, Any]:
        try:
            query = PointsAccountQuery.model_validate_json(body or b"{}")
        except ValidationError as error:
            return nats_error_reply(invalid_request(error))
        ref = query.reporter_ref
        balance, today, entries = await asyncio.gather(
            self.store.balance(ref),
            self.store.earned_on(ref, self.policy.day_of(self.clock.now())),
            self.store.history(ref, query.limit),
        )
        account = PointsAccount(
            reporter_ref=ref,
            balance=balance,
            earned_today=today,
            daily_cap=self.policy.daily_cap,
            entries=entries,
        )
        return {"ok": True, **account.model_dump(mode="json")}
