"""``python -m demo_sources seed``: create the demo shop database with its fixed rows."""

import argparse
import sys

from demo_sources import shop
from warehouse.connection import WarehouseUnavailable
from warehouse.settings import SHOP_DATABASE, SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_sources")
    parser.add_argument("command", choices=["seed"])
    parser.parse_args(argv)
    try:
        settings = load_settings()
        shop.seed(settings)
    except (SettingsError, WarehouseUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"demo shop ready: {settings.url(SHOP_DATABASE, hide_password=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
