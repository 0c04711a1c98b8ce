"""Points at the community service centre, through the console on real servers: a clerk
finds a resident's balance by number (intake answers the pseudonym, the points service
the balance), exchanges points for goods, cannot overdraw, and a resent form is one
exchange."""

import re

from chuishao.common.ids import reporter_ref
from chuishao.common.roles import PersonRole
from integration.test_points_service import running_points, until
from support.console import running_console
from support.intake import Harness
from support.servers import Servers

PHONE = "13900007777"
GRID = "grid-heyuan"


async def test_a_clerk_looks_up_and_exchanges_points_without_overdrawing(
    intake: Harness, servers: Servers
) -> None:
    async with (
        running_points(servers) as points,
        running_console(servers.nats_url, servers.redis_url, intake_app=intake.app) as console,
    ):
        ticket_id = await intake.submit(reporter={"name": "刘女士", "phone": PHONE})
        await intake.dispatch(ticket_id, GRID)  # accepted: 5 points

        async def earned() -> bool:
            return await points.points.store.balance(_ref(intake)) == 5

        await console.account("li", PersonRole.CLERK, GRID)
        assert (await console.login("li")).status_code == 303
        await until(earned)
        csrf = await console.session_csrf("/points")

        found = await console.http.post("/points/lookup", data={"phone": PHONE, "csrf_token": csrf})
        assert found.status_code == 200, found.text
        assert 'id="balance">5<' in found.text
        assert PHONE not in found.text.replace(f'value="{PHONE}"', "")  # only in the form
        exchange_id = re.search(r'name="exchange_id" value="([^"]+)"', found.text)
        assert exchange_id

        form = {"phone": PHONE, "exchange_id": exchange_id.group(1), "goods": "洗衣液 1 瓶"}
        too_much = await console.http.post(
            "/points/exchange", data={**form, "points": "6", "csrf_token": csrf}
        )
        assert too_much.status_code == 409
        assert "积分不足" in too_much.text
        for _ in range(2):  # the same form twice: one exchange
            done = await console.http.post(
                "/points/exchange", data={**form, "points": "4", "csrf_token": csrf}
            )
            assert done.status_code == 200, done.text
        assert 'id="balance">1<' in done.text
        assert await points.points.store.balance(_ref(intake)) == 1


def _ref(intake: Harness) -> str:
    """The ledger's key for the number: what intake computes from it."""
    return reporter_ref(intake.app.state.intake.reporter_secret, PHONE)
