"""Static hedge optimisation: scenario losses of book and candidates (`scenarios`), the
optimiser (`static`), the delta and delta-vega baselines (`baselines`) and the whole run
(`run.optimise`)."""
