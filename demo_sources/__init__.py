"""Demo source systems that stand in for a user's own: an online shop's operational database.

Kept apart from ``ingestion/`` on purpose: ingestion is production code that reads a source over
its real protocol; this package only plays the source, and a user deletes it when they plug in
their own systems.
"""
