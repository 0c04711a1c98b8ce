"""Play the brief's stories against the stack `make run` started (`make demo`)."""

import argparse
import asyncio
import os
import sys
from pathlib import Path

import httpx
from rich.console import Console

from chuishao.common.clients import redis_client
from chuishao.common.settings import ServiceSettings
from chuishao.demo.play import Demo
from chuishao.demo.screen import LiveScreen, PlainScreen
from chuishao.demo.stack import DemoError, Keys, Stack, StackClock


async def run(args: argparse.Namespace) -> int:
    settings = ServiceSettings()
    redis = redis_client(settings)
    console = Console()
    try:
        async with (
            httpx.AsyncClient(base_url=args.intake, timeout=10) as intake,
            httpx.AsyncClient(base_url=args.page, timeout=10) as board,
            httpx.AsyncClient(base_url=args.console, timeout=10) as residents,
        ):
            stack = Stack(intake, board, Keys.load(args.keys), residents)
            clock = StackClock(redis)
            if args.plain or not console.is_terminal:
                await Demo(stack, clock, PlainScreen(console), args.pace).play()
            else:
                with LiveScreen(f"{args.page}/", console) as screen:
                    await Demo(stack, clock, screen, args.pace).play()
    except DemoError as error:
        console.print(f"[red]demo stopped:[/red] {error}")
        return 1
    finally:
        await redis.aclose()
    console.print(f"Open the command centre: {args.page}/{board_query(args.keys)}")
    return 0


def board_query(keys: Path) -> str:
    """`make run` keeps a display token for the district's board beside the API keys."""
    token = keys.parent / "display-token"
    return f"?token={token.read_text().strip()}" if token.exists() else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chuishao-demo", description=__doc__)
    parser.add_argument("--intake", default="http://127.0.0.1:8080", help="intake's base URL")
    parser.add_argument("--page", default="http://127.0.0.1:8090", help="supervision's base URL")
    parser.add_argument(
        "--console",
        default=f"http://127.0.0.1:{os.environ.get('CHUISHAO_CONSOLE_HTTP_PORT', '8070')}",
        help="the console's base URL (its residents' page /r), as `make run` prints it",
    )
    parser.add_argument("--keys", type=Path, default=Path(".data/api-keys.json"))
    parser.add_argument(
        "--pace", type=float, default=0.8, help="real seconds per stack hour (default 0.8)"
    )
    parser.add_argument("--plain", action="store_true", help="plain lines, no live table")
    args = parser.parse_args(argv)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
