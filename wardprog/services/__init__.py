"""Use-cases: rules + persistence in one transaction. Flows call these; these never call Prefect."""
