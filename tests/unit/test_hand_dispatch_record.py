"""A ticket triage could not classify, assigned by hand with a category: intake's record
takes the category of its dispatch (it showed 未分类 for ever, and no search by category
found it)."""

from chuishao.intake.projection import apply
from unit.test_lifecycle_properties import START, dispatch, new_record


def test_an_uncategorised_ticket_takes_its_dispatch_category() -> None:
    record = new_record().model_copy(update={"category": None})
    event = dispatch(record, "grid-a", START)
    assert event.category == "fire_box"  # type: ignore[attr-defined]
    assert apply(record, event).category == "fire_box"


def test_a_dispatch_never_overwrites_a_category() -> None:
    record = new_record().model_copy(update={"category": "parking"})
    assert apply(record, dispatch(record, "grid-a", START)).category == "parking"
