"""Contract terms grouped by payoff family (struct of arrays) and their payoffs."""
