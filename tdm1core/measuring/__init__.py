"""Measuring: Poisson quantification of droplet counts (lambda = -ln(negatives/accepted), copies per well) and
the confidence intervals every number carries. Depends only on the standard library, NumPy and SciPy."""
