"""Daily partitions, for the models that are built a day at a time.

They start on the first day of data: ``DAILY_PARTITIONS_START`` (``YYYY-MM-DD``), by default the
demo shop's first day. Days are UTC days, as the models' ``to_utc_date`` makes them.
"""

import os

from dagster import DailyPartitionsDefinition

daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("DAILY_PARTITIONS_START", "2026-01-01"), timezone="UTC"
)
