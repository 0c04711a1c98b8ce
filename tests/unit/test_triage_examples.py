"""Dispatcher examples as corpus rows: the latest label per ticket, phones masked,
danger and call as the detector reads the text."""

from datetime import UTC, datetime

from chuishao.router.examples import LabelledExample, to_tsv

AT = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def example(
    ticket_id: str, category: str, text: str, how: str = "manual_dispatch"
) -> LabelledExample:
    return LabelledExample.model_validate(
        {
            "ticket_id": ticket_id,
            "text": text,
            "category": category,
            "who": "qingshi-command",
            "when": AT,
            "how": how,
        }
    )


def test_export_keeps_the_latest_label_and_masks_phones() -> None:
    tsv = to_tsv(
        [
            example("T1", "heating", "家里暖气不热，电话13812345678"),
            example("T2", "emergency_hazard", "楼道里一股煤气味\t很重"),
            example("T1", "assistance", "家里暖气不热，电话13812345678", how="recategorised"),
        ]
    )
    assert tsv.splitlines() == [
        "assistance\t0\t-\t家里暖气不热，电话***",
        "emergency_hazard\t1\t119\t楼道里一股煤气味 很重",
    ]
