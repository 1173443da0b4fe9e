"""Assets: ingestion (dlt) and transformation (dbt)."""
