"""Simulation applications: the command-file runner (``prophex run``), rendering, the demo."""
