"""Scenario replay: YAML scenarios driven through the sequencer, with reports and sweeps."""
