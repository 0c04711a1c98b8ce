"""What the console asks of the points service over NATS request/reply (docs/points.md)."""

from pydantic import BaseModel, ConfigDict, Field

from chuishao.points.ledger import Entry

REPORTER_REF = r"^r_[0-9a-f]{20}$"


class ExchangePoints(BaseModel):
    """A clerk hands over goods for points (subject `cmd.points.exchange`). The screen
    picks `exchange_id` once per exchange and sends it again on a retry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    reporter_ref: str = Field(pattern=REPORTER_REF)
    points: int = Field(gt=0, le=100_000)
    goods: str = Field(min_length=1, max_length=200)
    centre: str = Field(min_length=1, max_length=100)
    person: str | None = Field(default=None, max_length=100, description="The clerk")


class PointsAccountQuery(BaseModel):
    """A reporter's balance and latest lines (subject `internal.points.account`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reporter_ref: str = Field(pattern=REPORTER_REF)
    limit: int = Field(default=50, ge=1, le=500)


class PointsAccount(BaseModel):
    reporter_ref: str
    balance: int
    earned_today: int
    daily_cap: int
    entries: list[Entry] = Field(description="Newest first")
