"""dlt pipelines that load each source system into its own raw schema in the warehouse."""
