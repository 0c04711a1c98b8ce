"""`make run`'s seat has answers to find: the console adds the starter knowledge-base
entries of a TOML file on start (chuishao.console.knowledge.seed), once, and never over
an entry an admin has edited since — on a real nats-server."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from chuishao.console import knowledge
from chuishao.devstack.credentials import KNOWLEDGE, console_environment

pytestmark = pytest.mark.usefixtures("clean")
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def live_entries(js: JetStreamContext) -> dict[str, knowledge.KnowledgeEntry]:
    kv = await js.key_value(knowledge.BUCKET.bucket)
    entries = {}
    for key in await kv.keys():
        value = (await kv.get(key)).value
        assert value is not None
        entries[key] = knowledge.KnowledgeEntry.model_validate_json(value)
    return entries


async def test_make_runs_starter_entries_are_added_once_and_found_by_the_seat(
    js: JetStreamContext,
) -> None:
    assert console_environment({"console": "k"}, Path("a.json"), "http://i")[
        "CHUISHAO_CONSOLE_SEED_KNOWLEDGE"
    ] == str(KNOWLEDGE)
    assert await knowledge.seed(js, KNOWLEDGE, AT) == 3
    entries = await live_entries(js)
    assert len(entries) == 3
    assert {e.version for e in entries.values()} == {1}
    # What the seat's search box suggests (供暖、公积金、户口) finds an answer.
    for words in ("供暖", "公积金", "户口"):
        assert knowledge.search(list(entries.values()), words), words
    assert entries["demo-heating-season"].category == "heating"
    # A second start adds nothing.
    assert await knowledge.seed(js, KNOWLEDGE, AT) == 0
    assert len(await live_entries(js)) == 3


async def test_an_admins_edit_is_not_overwritten_by_the_seed(
    js: JetStreamContext, tmp_path: Path
) -> None:
    seed = tmp_path / "kb.toml"
    seed.write_text(
        '[[entry]]\nid = "kb-1"\nquestion = "问题"\nanswer = "种子答复"\n', encoding="utf-8"
    )
    assert await knowledge.seed(js, seed, AT) == 1
    await knowledge.save(
        js,
        entry_id="kb-1",
        category=None,
        question="问题",
        answer="管理员改过的答复",
        by="admin",
        at=AT,
    )
    assert await knowledge.seed(js, seed, AT) == 0
    entry = (await live_entries(js))["kb-1"]
    assert (entry.version, entry.answer) == (2, "管理员改过的答复")
