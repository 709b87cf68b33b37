"""Billing: accounts, API keys, credit balance and ledger, exactly-once charges (``leadmesh.billing.v1``)."""
