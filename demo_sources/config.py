"""How big and how messy the demo shop is.

A scale fixes the volume per simulated day; ``Mess`` holds the switches for the bad input a real
source delivers. The default dose is small and documented in the README; tests turn one switch on
at a time with :meth:`Mess.only`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

DEFAULT_SEED = 42
DEFAULT_START_DATE = date(2026, 1, 1)
DEFAULT_HISTORY_DAYS = 30


@dataclass(frozen=True)
class Scale:
    """Volumes per simulated day."""

    name: str
    orders_per_day: int
    products: int
    events_per_order: int = 10

    @property
    def customers_per_day(self) -> int:
        return max(2, self.orders_per_day // 3)


SCALES = {
    scale.name: scale
    for scale in (
        Scale("tiny", orders_per_day=20, products=30),
        Scale("small", orders_per_day=200, products=200),
        Scale("default", orders_per_day=500, products=500),
        # 100 days of history make the benchmark's 10M orders and 100M events.
        Scale("large", orders_per_day=100_000, products=5_000),
    )
}


@dataclass(frozen=True)
class Mess:
    """Bad input on purpose. Rates are fractions of a day's events; chances are per daily file."""

    duplicate_event_rate: float = 0.005
    """Events delivered twice, byte for byte (same event_id)."""
    unknown_event_type_rate: float = 0.001
    """Events whose event_type is not one the shop emits (``mystery_event``)."""
    other_timestamp_format_rate: float = 0.001
    """Events whose occurred_at is ``DD/MM/YYYY HH:MM:SS`` instead of ISO 8601 UTC."""
    late_event_rate: float = 0.02
    """Events held back and delivered in the next day's file."""
    malformed_line_chance: float = 0.05
    """Chance that a day's event file holds one truncated, unparseable JSON line."""
    empty_file_chance: float = 0.0
    """Chance that a day's event file is empty (its events arrive, late, the next day)."""
    extra_csv_column_chance: float = 0.05
    """Chance that a day's marketing CSV has an extra ``currency`` column (schema drift)."""

    @classmethod
    def none(cls) -> Mess:
        """Clean data: every switch off."""
        return cls(**{field.name: 0.0 for field in dataclasses.fields(cls)})

    @classmethod
    def only(cls, **switches: float) -> Mess:
        """Every switch off except ``switches``, e.g. ``Mess.only(malformed_line_chance=1)``."""
        return dataclasses.replace(cls.none(), **switches)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)
