"""Risk: horizon revaluation, tail metrics, attribution, exposure, stress and margin."""
