"""What dbt gives Jinja at run time and sqlfluff's jinja templater does not, for lint only.

sqlfluff puts this package's names into the templating context (``library_path`` in
``.sqlfluff``). A dispatched macro renders as a bare name of the right shape for SQL, which is
enough to lint the model around it; the macros themselves are tested by ``dbt build``.
"""


class _Adapter:
    def dispatch(self, macro_name: str, macro_namespace: str | None = None):
        return lambda *args, **kwargs: macro_name


adapter = _Adapter()


class _DbtCrossDatabaseMacros:
    """``dbt.dateadd(...)``, ``dbt.current_timestamp()``: an expression-shaped placeholder."""

    def __getattr__(self, macro_name: str):
        return lambda *args, **kwargs: f"{macro_name}_placeholder"


class _Target:
    """The profile target, as dev: code only the dev target renders (``limit_rows_in_dev``, the
    ``dev_days`` branches) renders for the linter too, so it is linted like the rest. ``var()``
    gives every variable a value here, so those branches are taken."""

    name = "dev"
    schema = "analytics"
    type = "postgres"


dbt = _DbtCrossDatabaseMacros()
target = _Target()
