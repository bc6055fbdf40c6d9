"""Command handlers by concept. Each computes a plan without touching state, then applies it
through :class:`~prophex.engine.core.Core`; ``Exchange.apply`` only dispatches."""
