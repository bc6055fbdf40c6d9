

def test_amm_degenerate_terms_are_exact() -> None:
    """No other side (no logarithm term) or no trade: the value is a whole number, which the
    exact path must return at once rather than refine forever."""
    assert amm.open_cost(5_000_000, 0, 1_234_567) == 1_234_567
    assert amm.close_proceeds(5_000_000, 0, 1_234_567) == 1_234_567
    assert amm.open_cost(5_000_000, 7_000_000, 0) == 0
    assert amm.close_proceeds(5_000_000, 7_000_000, 0) == 0
