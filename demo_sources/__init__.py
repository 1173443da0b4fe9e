"""Demo source systems that stand in for a user's own: a living online shop.

- ``shop`` / ``simulator``: the shop's operational Postgres database and the seeded simulator that
  gives it history and moves its clock (customers, products, orders, payments, deletions), and
  delivers daily event files and marketing CSVs into the landing folder;
- ``payments_api``: the payments service, a real HTTP API over the same database.

Kept apart from ``ingestion/`` on purpose: ingestion is production code that reads a source over
its real protocol; this package only plays the sources, and a user deletes it when they plug in
their own systems.
"""
