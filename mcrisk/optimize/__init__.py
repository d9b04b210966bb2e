"""Optimisation over Monte Carlo scenarios: the Rockafellar-Uryasev CVaR optimiser and the
mean-CVaR efficient frontier built on it."""

from mcrisk.optimize.cvar import CvarProblem as CvarProblem
from mcrisk.optimize.cvar import CvarSolution as CvarSolution
from mcrisk.optimize.cvar import minimise_cvar as minimise_cvar
