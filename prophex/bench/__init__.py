"""Every benchmark in one place: core/ledger, portfolio margin, margin engine, replay, API."""
