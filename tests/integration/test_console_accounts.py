"""The console's people on real Redis: argon2 hashes, login and logout, the throttle,
CSRF on every form, the admin page and the accounts command."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from chuishao.common.roles import PersonRole
from chuishao.console.accounts import AccountError
from support.console import PASSWORD, ConsoleHarness, running_console
from support.servers import Servers

HTML = {"Accept": "text/html"}


@pytest.fixture
async def console(servers: Servers, clean: None) -> AsyncIterator[ConsoleHarness]:
    async with running_console(servers.nats_url, servers.redis_url) as harness:
        yield harness


async def session_token(console: ConsoleHarness) -> str:
    session_id = str(console.http.cookies.get("chuishao_session"))
    session = await console.console.sessions.get(session_id)
    assert session is not None
    return session.csrf


async def test_passwords_are_kept_only_as_argon2id_hashes(
    console: ConsoleHarness, redis: Redis
) -> None:
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    raw = await redis.hget("console:accounts", "wang")
    assert isinstance(raw, bytes)
    assert PASSWORD not in raw.decode()
    assert json.loads(raw)["password_hash"].startswith("$argon2id$")
    assert await console.console.accounts.check("wang", PASSWORD) is not None
    assert await console.console.accounts.check("wang", PASSWORD + "x") is None


async def test_a_role_needs_its_scope_and_a_plain_username(console: ConsoleHarness) -> None:
    with pytest.raises(AccountError):
        await console.console.accounts.add("li", PersonRole.CLERK, None, PASSWORD)
    with pytest.raises(AccountError):
        await console.console.accounts.add("Bad Name!", PersonRole.CITY, None, PASSWORD)
    await console.account("li", PersonRole.CITY)
    with pytest.raises(AccountError):  # taken
        await console.console.accounts.add("li", PersonRole.CITY, None, PASSWORD)


async def test_login_opens_a_session_and_logout_ends_it(console: ConsoleHarness) -> None:
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    refused = await console.http.get("/admin?x=1", headers=HTML)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login?next=/admin%3Fx%3D1"

    logged_in = await console.login("wang")
    assert logged_in.status_code == 303, logged_in.text
    assert logged_in.headers["location"] == "/clerk"
    session = str(console.http.cookies.get("chuishao_session"))
    home = await console.http.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/clerk")

    out = await console.http.post("/logout", headers={"X-CSRF-Token": await session_token(console)})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    console.http.cookies.set("chuishao_session", session)  # the old cookie opens nothing
    again = await console.http.get("/", headers=HTML)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    console: ConsoleHarness,
) -> None:
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    wrong = await console.login("wang", "not-the-password")
    nobody = await console.login("nobody", "not-the-password")
    assert wrong.status_code == nobody.status_code == 401
    assert "用户名或密码不正确" in wrong.text
    assert "用户名或密码不正确" in nobody.text


async def test_five_wrong_passwords_lock_the_username_even_for_the_right_one(
    console: ConsoleHarness,
) -> None:
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    answers = [(await console.login("wang", f"guess-{n}")).status_code for n in range(5)]
    assert answers == [401, 401, 401, 401, 429]
    right = await console.login("wang")
    assert right.status_code == 429
    assert "锁定" in right.text
    assert "chuishao_session" not in console.http.cookies


async def test_an_address_guessing_many_usernames_is_locked(console: ConsoleHarness) -> None:
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    # 5 × 4 failures from one address, each username below its own limit.
    for n in range(20):
        await console.login(f"user{n % 10}", "guess")
    assert (await console.login("wang")).status_code == 429


async def test_a_post_without_the_csrf_token_is_refused(console: ConsoleHarness) -> None:
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    await console.http.get("/login")
    bare = {"username": "wang", "password": PASSWORD}
    refused = await console.http.post("/login", data=bare, headers=HTML)
    assert refused.status_code == 403
    assert "表单已过期" in refused.text
    forged = await console.http.post("/login", data={**bare, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "csrf_failed"

    assert (await console.login("wang")).status_code == 303
    # Logged in, the pre-login cookie's token no longer counts: only the session's.
    stale = await console.http.post("/logout", data={"csrf_token": console.csrf()})
    assert stale.status_code == 403
    assert (await console.http.get("/")).status_code == 303  # still logged in


async def test_the_admin_page_adds_disables_and_resets(console: ConsoleHarness) -> None:
    await console.account("admin", PersonRole.ADMIN)
    await console.login("admin")
    page = await console.http.get("/admin", headers=HTML)
    assert page.status_code == 200
    assert "账号管理" in page.text
    token = await session_token(console)

    added = await console.http.post(
        "/admin/accounts",
        data={
            "username": "zhao",
            "role": "command_centre",
            "street": "qingshi",
            "phone": "13900000009",  # the duty mobile for hotspot warnings by SMS
            "csrf_token": token,
        },
    )
    assert added.status_code == 200, added.text
    account = await console.console.accounts.get("zhao")
    assert account is not None
    assert (account.role, account.street) == (PersonRole.COMMAND_CENTRE, "qingshi")
    assert account.phone == "13900000009"
    shown = added.text.split('<code class="password">')[1].split("</code>")[0]
    assert await console.console.accounts.check("zhao", shown) is not None

    no_token = await console.http.post("/admin/accounts/zhao/disable")
    assert no_token.status_code == 403
    disabled = await console.http.post("/admin/accounts/zhao/disable", data={"csrf_token": token})
    assert disabled.status_code == 200
    assert await console.console.accounts.check("zhao", shown) is None

    reset = await console.http.post("/admin/accounts/zhao/reset", data={"csrf_token": token})
    fresh = reset.text.split('<code class="password">')[1].split("</code>")[0]
    assert fresh != shown
    await console.http.post("/admin/accounts/zhao/enable", data={"csrf_token": token})
    assert await console.console.accounts.check("zhao", fresh) is not None


async def test_the_admin_page_is_for_admins_only(console: ConsoleHarness) -> None:
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    await console.login("wang")
    refused = await console.http.get("/admin", headers=HTML)
    assert refused.status_code == 403
    assert "无权" in refused.text


async def test_a_disabled_account_is_logged_out_at_once(console: ConsoleHarness) -> None:
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    await console.login("wang")
    assert (await console.http.get("/")).headers["location"] == "/clerk"
    await console.console.accounts.set_disabled("wang", True)
    assert (await console.http.get("/", headers=HTML)).headers["location"].startswith("/login")


def test_the_accounts_command(servers: Servers) -> None:
    env = {
        **os.environ,
        "CHUISHAO_REDIS_URL": servers.redis_url,
        "CHUISHAO_CONSOLE_NAMESPACE": "cli-test",
        "CHUISHAO_PASSWORD_HASH_TIME_COST": "1",
        "CHUISHAO_PASSWORD_HASH_MEMORY_KIB": "1024",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "chuishao.console.accounts", *args]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    added = run("add", "sun", "--role", "district", "--district", "yunxi", "--phone", "13900000008")
    assert added.returncode == 0, added.stderr
    username, password = added.stdout.split()
    assert username == "sun"
    assert len(password) >= 12
    assert run("add", "sun", "--role", "city").returncode == 1
    listed = run("list").stdout
    assert "sun\tdistrict\tyunxi" in listed
    assert "13900000008" not in listed  # the duty mobile is kept, never printed
    assert "手机号" in run("phone", "sun", "１３９０００００００８").stderr  # ASCII digits only
    assert run("disable", "sun").returncode == 0
    assert "disabled" in run("list").stdout
    reset = run("reset", "sun")
    assert reset.stdout.split()[1] != password
    assert "没有用户" in run("reset", "nobody").stderr


async def test_the_demo_accounts_file_is_added_on_start_once(
    servers: Servers, clean: None, tmp_path: Path
) -> None:
    path = tmp_path / "accounts.json"
    demo = [
        {"username": "grid-heyuan", "password": "p" * 16, "role": "clerk", "unit": "grid-heyuan"},
        {
            "username": "qingshi-centre",
            "password": "q" * 16,
            "role": "command_centre",
            "street": "qingshi",
        },
        {"username": "admin", "password": "a" * 16, "role": "admin"},
    ]
    path.write_text(json.dumps(demo))
    async with running_console(
        servers.nats_url, servers.redis_url, console_seed_accounts=str(path)
    ) as harness:
        accounts = harness.console.accounts
        deadline = asyncio.get_running_loop().time() + 30
        while len(await accounts.all()) < 3:
            assert asyncio.get_running_loop().time() < deadline, "never seeded"
            await asyncio.sleep(0.05)
        centre = await accounts.check("qingshi-centre", "q" * 16)
        assert centre is not None
        assert (centre.role, centre.street) == (PersonRole.COMMAND_CENTRE, "qingshi")
        # A password reset since stays reset: the file only adds what is missing.
        await accounts.reset("admin", "b" * 16)
        assert await accounts.seed(path) == 0
        assert await accounts.check("admin", "b" * 16) is not None


async def test_a_login_always_starts_a_new_session(console: ConsoleHarness) -> None:
    """A session id planted before login (session fixation) is never the one logged in."""
    await console.account("wang", PersonRole.CLERK, "grid-heyuan")
    await console.http.get("/login")
    form = {"username": "wang", "password": PASSWORD, "csrf_token": console.csrf()}
    planted = f"chuishao_session=planted-by-someone; chuishao_csrf={console.csrf()}"
    console.http.cookies.clear()
    answer = await console.http.post("/login", data=form, headers={"Cookie": planted})
    assert answer.status_code == 303
    fresh = answer.cookies["chuishao_session"]
    assert fresh != "planted-by-someone"
    assert await console.console.sessions.get(fresh) is not None
    assert await console.console.sessions.get("planted-by-someone") is None


async def test_refusals_are_pages_for_people_and_the_one_shape_for_programs(
    console: ConsoleHarness,
) -> None:
    page = await console.http.get("/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert "找不到这个页面" in page.text
    assert "<html" in page.text
    body = await console.http.get("/no/such/page")
    assert body.json()["error"]["code"] == "not_found"
    await console.http.get("/login")
    incomplete = await console.http.post(
        "/login", data={"csrf_token": console.csrf()}, headers=HTML
    )
    assert incomplete.status_code == 422
    assert "表单内容不完整" in incomplete.text
