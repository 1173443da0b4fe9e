"""What dbt gives Jinja at run time and sqlfluff's jinja templater does not, for lint only.

sqlfluff puts this package's names into the templating context (``library_path`` in
``.sqlfluff``). A dispatched macro renders as a bare name of the right shape for SQL, which is
enough to lint the model around it; the macros themselves are tested by ``dbt build``.
"""


class _Column:
    def __init__(self, name: str) -> None:
        self.name = name


class _Adapter:
    def dispatch(self, macro_name: str, macro_namespace: str | None = None):
        return lambda *args, **kwargs: macro_name

    def get_columns_in_relation(self, relation):
        """The bookkeeping columns ``is_incremental_with`` asks about, so that the incremental
        branches render for the linter (sqlfluff's ``is_incremental()`` is true)."""
        return [_Column(name) for name in ("_dlt_load_id", "events_load_id")]


adapter = _Adapter()


class _Relation:
    @staticmethod
    def create(database=None, schema=None, identifier=None, **kwargs) -> str:
        """``api.Relation.create(...)``: a relation's name, as sqlfluff's ``source()`` gives."""
        return f"{schema}_{identifier}".replace(".", "_")


class _Api:
    Relation = _Relation


api = _Api()


class _DbtCrossDatabaseMacros:
    """``dbt.dateadd(...)``, ``dbt.current_timestamp()``: an expression-shaped placeholder."""

    def __getattr__(self, macro_name: str):
        return lambda *args, **kwargs: f"{macro_name}_placeholder"


class _Target:
    """The profile target, as dev: code only the dev target renders renders for the linter too,
    so it is linted like the rest."""

    name = "dev"
    schema = "analytics"
    type = "postgres"


dbt = _DbtCrossDatabaseMacros()
target = _Target()
