"""Pipeline inspection: which reps, teams and deals of a period are at risk, why, and for how much.

Pure rules only (thresholds, per-deal facts folded from opportunity versions, deal flags, rep and
team figures and flags, risk-state transitions); storage, events and RPCs wire them elsewhere.
"""
