"""The console's parts: accounts, sessions, the login throttle, intake's client and the
read models it names places and units by. No ticket state: tickets live in intake."""

from chuishao.common.catalogue import catalogue_view
from chuishao.common.categories import Category
from chuishao.common.places import places_view
from chuishao.common.runtime import Runtime
from chuishao.common.units import units_view
from chuishao.console.accounts import AccountStore, hasher
from chuishao.console.auth import Sessions
from chuishao.console.hotspot_sms import HotspotTexts
from chuishao.console.intake_client import IntakeClient
from chuishao.console.knowledge import knowledge_view
from chuishao.console.phone_codes import CodeRule, PhoneCodes
from chuishao.console.settings import ConsoleSettings
from chuishao.console.throttle import LoginThrottle, ThrottleRule

PRODUCER = "console"


class Console:
    """The parts; chuishao.console.bootstrap composes them and their start-up order."""

    def __init__(self, runtime: Runtime, settings: ConsoleSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.broker = runtime.broker
        self.redis = runtime.redis
        self.clock = runtime.clock
        namespace = settings.console_namespace
        self.accounts = AccountStore(self.redis, namespace, hasher(settings))
        self.sessions = Sessions(self)
        self.throttle = LoginThrottle(
            self.redis,
            ThrottleRule(
                failures=settings.throttle_failures,
                window_seconds=settings.throttle_window_minutes * 60,
                lock_seconds=settings.throttle_lock_minutes * 60,
                ip_factor=settings.throttle_ip_factor,
            ),
            namespace,
        )
        self.intake = IntakeClient(settings)
        # Residents' one-time SMS codes (the points page, web/resident_points.py).
        self.phone_codes = PhoneCodes(
            self.redis, namespace, settings.person_token_secret.get_secret_value(), CodeRule()
        )
        self.units = units_view()
        self.places = places_view()
        # Category names (消防箱损坏, not fire_box) on the clerk's queue and ticket page.
        self.catalogue = catalogue_view()
        self.knowledge = knowledge_view()  # the 12345 knowledge base (直接答复)
        # Hotspot warnings by SMS to the command-centre people (hotspot_sms.py).
        self.hotspot_texts = HotspotTexts(
            self.accounts,
            self.redis,
            self.places,
            enabled=settings.console_hotspot_sms,
            namespace=namespace,
        )

    def unit_name(self, unit_id: str | None) -> str:
        unit = self.units.get(unit_id) if unit_id else None
        return unit.name if unit is not None else (unit_id or "")

    def category_groups(self) -> dict[str, list[Category]]:
        """The catalogue by group, each sorted by name: the forms' category lists."""
        groups: dict[str, list[Category]] = {}
        for category in sorted(self.catalogue.all(), key=lambda c: (c.group, c.name)):
            groups.setdefault(category.group or "其他", []).append(category)
        return groups

    def category_name(self, code: str | None) -> str:
        category = self.catalogue.get(code) if code else None
        return category.name if category is not None else (code or "未分类")

    def place_name(self, code: str | None) -> str:
        place = self.places.get(code) if code else None
        return place.name if place is not None else (code or "")
