"""``python -m demo_sources``: create, advance and serve the demo shop.

init     create the shop with N days of history (no-op if it exists)
advance  simulate the next N days
api      serve the payments API on 127.0.0.1 until interrupted
api-up   start the payments API in the background (no-op if it runs)
api-down stop the background payments API

The shop goes where the shop load reads (``SOURCES__SHOP__CREDENTIALS``), the files where the
landing load reads (``sources.landing.bucket_url``); the API listens on ``PAYMENTS_API_PORT``
(see ``demo_sources/settings.py``).
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from demo_sources.config import DEFAULT_HISTORY_DAYS, DEFAULT_SEED, SCALES, Mess
from demo_sources.payments_api import BackgroundApi, create_app
from demo_sources.settings import (
    DemoSettingsError,
    api_port,
    api_token,
    landing_url,
    shop_owner_url,
    shop_url,
)
from demo_sources.simulator import DaySummary, ShopSimulator, SimulatorError


def _print_days(summaries: list[DaySummary]) -> None:
    if not summaries:
        return
    totals = {
        field: sum(getattr(summary, field) for summary in summaries)
        for field in ("new_customers", "deleted_customers", "new_orders", "payments", "refunds")
    }
    events = sum(summary.events_delivered for summary in summaries)
    print(
        f"simulated {summaries[0].day} .. {summaries[-1].day}: "
        + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in totals.items())
        + f", {events} events delivered"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_sources", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create the shop with some days of history")
    init.add_argument("--days", type=int, default=DEFAULT_HISTORY_DAYS)
    init.add_argument("--scale", choices=list(SCALES), default="default")
    init.add_argument("--seed", type=int, default=DEFAULT_SEED)
    init.add_argument("--clean", action="store_true", help="no mess: every switch off")
    advance = commands.add_parser("advance", help="simulate the next days")
    advance.add_argument("--days", type=int, default=1)
    api = commands.add_parser("api", help="serve the payments API (Ctrl-C stops it)")
    api.add_argument("--port", type=int, help="default: PAYMENTS_API_PORT, else 8765")
    api.add_argument("--rate-limit-every", type=int, default=0, help="answer 429 every N requests")
    for name, text in (("api-up", "start the API in the background"), ("api-down", "stop it")):
        background = commands.add_parser(name, help=text)
        background.add_argument("--port", type=int, help="default: PAYMENTS_API_PORT, else 8765")
    args = parser.parse_args(argv)

    try:
        if args.command in ("init", "advance"):
            simulator = ShopSimulator(shop_owner_url(), landing_url())
        if args.command == "init":
            summaries = simulator.init(
                args.days,
                scale=args.scale,
                seed=args.seed,
                mess=Mess.none() if args.clean else Mess(),
            )
            if not summaries:
                state = simulator.state()
                print(f"demo shop already initialised (simulated up to {state.next_date}): ok")
            _print_days(summaries)
        elif args.command == "advance":
            _print_days(simulator.advance(args.days))
        elif args.command == "api":
            port = args.port or api_port()
            # The payments service reads its tables as its own read-only user.
            url = ShopSimulator(shop_owner_url(), landing_url()).reader_url("payments_service")
            app = create_app(url, token=api_token(), rate_limit_every=args.rate_limit_every)
            print(f"payments API on http://127.0.0.1:{port}/v1/payments (Ctrl-C stops it)")
            uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")
        elif args.command == "api-up":
            background = BackgroundApi(args.port or api_port())
            shop_url()  # the API process reads it too: fail here, in one line, if it is missing
            started = background.start()
            print(f"payments API {'started' if started else 'already runs'} on {background.url}")
        elif args.command == "api-down":
            stopped = BackgroundApi(args.port or api_port()).stop()
            print("payments API stopped" if stopped else "payments API was not running")
    except (DemoSettingsError, SimulatorError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
