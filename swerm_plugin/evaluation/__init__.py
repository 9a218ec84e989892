"""Measuring selection and calibration: best-of-N maths, the ``swerm eval`` report, and the
Markdown + PNG report of ``swerm report``."""
