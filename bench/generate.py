"""How fast the demo shop is generated: rows per second at a given scale, on a throwaway server.

    .venv/bin/python bench/generate.py --scale default --days 30
    .venv/bin/python bench/generate.py --scale large --days 100   # 10M orders, 100M events

Prints wall time and rows/s for the database tables and the event files. Nothing is kept.
"""

from __future__ import annotations

import argparse
import gzip
import time

from demo_sources.settings import connect
from demo_sources.simulator import ShopSimulator
from warehouse.embedded import throwaway_server

TABLES = ("customers", "products", "orders", "order_items", "payments.payments", "payments.refunds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="default")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()

    with throwaway_server() as server:
        simulator = ShopSimulator(server.url("shop"), server.paths.data_dir / "landing")
        started = time.perf_counter()
        simulator.init(args.days, scale=args.scale)
        seconds = time.perf_counter() - started

        conn = connect(simulator.shop_url)
        with conn, conn.cursor() as cursor:
            counts = {}
            for table in TABLES:
                cursor.execute(f"select count(*) from {table}")
                counts[table] = cursor.fetchone()[0]
        conn.close()
        files = sorted(simulator.events_dir.glob("*.jsonl.gz"))
        events = sum(gzip.decompress(path.read_bytes()).count(b"\n") for path in files)

    rows = sum(counts.values())
    print(f"scale={args.scale} days={args.days}: generated in {seconds:.1f} s")
    for table, count in counts.items():
        print(f"  {table:<20} {count:>12,}")
    print(f"  {'event lines':<20} {events:>12,} in {len(files)} files")
    print(f"database rows/s: {rows / seconds:,.0f}")
    print(f"database rows + event lines/s: {(rows + events) / seconds:,.0f}")


if __name__ == "__main__":
    main()
