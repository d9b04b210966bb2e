"""Model calibration: Heston, Bates and Merton fitted to implied-vol quotes (`models`)."""
