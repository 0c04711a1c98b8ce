"""The words people read: Chinese messages rendered from the Jinja2 templates beside this
module (templates/<name>.txt.j2)."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from chuishao.common.domain import ClockKind, Level
from chuishao.common.events import Event
from chuishao.common.labels import LEVEL_NAMES, ROLE_NAMES, WHISTLE_NAMES
from chuishao.common.tokens import resident_token
from chuishao.notify.channels import ResidentMessage
from chuishao.notify.hotspots import Words
from chuishao.notify.jobs import DeliveryJob, Template

CLOCKS = {
    ClockKind.REPORT_FOR_DUTY: "签收",
    ClockKind.FIRST_RESPONSE: "首次响应",
    ClockKind.RESOLUTION: "办结",
    ClockKind.MANUAL_DISPATCH: "派单",
}


def duration(seconds: int) -> str:
    minutes = max(seconds, 0) // 60
    if minutes < 60:
        return f"{minutes}分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}小时" + (f"{minutes}分钟" if minutes else "")
    return f"{hours // 24}天" + (f"{hours % 24}小时" if hours % 24 else "")


class Messages:
    def __init__(
        self,
        timezone: ZoneInfo,
        resident_page_url: str,
        link_secret: str,
        words: Words | None = None,
    ) -> None:
        self.timezone = timezone
        # Place and category names (a hotspot warning names its street, grid and category).
        self.words = words
        self.resident_page_url = resident_page_url.rstrip("/")
        self.link_secret = link_secret
        self.env = Environment(
            loader=PackageLoader("chuishao.notify", "templates"),
            undefined=StrictUndefined,  # a missing field is a bug, not an empty message
            autoescape=False,  # plain text for SMS and chat, not HTML  # noqa: S701
            keep_trailing_newline=False,
        )

    def resident_link(self, ticket_id: str) -> str:
        """The resident's page of the ticket (the console's /r/<ticket>?t=<token>): its
        progress, the photos of the result, the rating."""
        token = resident_token(self.link_secret, ticket_id)
        return f"{self.resident_page_url}/{ticket_id}?t={token}"

    def local(self, moment: datetime) -> str:
        local = moment.astimezone(self.timezone)
        return f"{local.month}月{local.day}日{local:%H:%M}"

    def variables(self, event: Event, unit_name: str | None) -> dict[str, Any]:
        """Also the parameters a gateway's pre-registered template is filled with."""
        clock = getattr(event, "clock", None)
        role = getattr(event, "role", None)
        whistle = getattr(event, "whistle", None)
        return {
            "ticket_id": event.ticket_id,
            "unit_name": unit_name or "",
            "link": self.resident_link(event.ticket_id),
            "clock_label": CLOCKS.get(clock, "") if clock else "",
            "role_label": ROLE_NAMES.get(role, "") if role else "",
            "whistle_label": WHISTLE_NAMES.get(whistle, "派单") if whistle else "派单",
            # call_now: the emergency numbers to ring (119、120), for a gateway template too.
            "call": "、".join(getattr(event, "call", ())),
            **(self.words.variables(event) if self.words is not None else {}),
        }

    def message(
        self, job: DeliveryJob, unit_name: str | None = None, *, withheld: tuple[str, ...] = ()
    ) -> ResidentMessage:
        """A job's text for a phone or chat channel, with the variables a gateway's
        pre-registered template is filled with (but `withheld`, and the empty ones)."""
        variables = self.variables(job.event, unit_name)
        return ResidentMessage(
            delivery_id=job.job_id,
            ticket_id=job.event.ticket_id,
            template=job.notice.template,
            text=self.render(job.notice.template, job.event, unit_name),
            params={k: str(v) for k, v in variables.items() if v and k not in withheld},
        )

    def render(self, template: Template, event: Event, unit_name: str | None = None) -> str:
        return (
            self.env.get_template(f"{template}.txt.j2")
            .render(
                event=event,
                local=self.local,
                duration=duration,
                level_label=lambda level: LEVEL_NAMES[Level(level)],
                **self.variables(event, unit_name),
            )
            .strip()
        )
