"""Writes anova_coding.csv (run once from this folder; the CSV is committed): 150 rows, 15 groups
g, factors A (lo/mid/hi) and B (alpha/beta/gamma) drawn unbalanced, a covariate x, and a response
with A, B, x, A:x and B:x effects and a random intercept. numpy's default_rng(4117)."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(4117)
n = 150
g = np.repeat(np.arange(1, 16), 10)
a = rng.choice(["lo", "mid", "hi"], n, p=[0.45, 0.35, 0.2])
b = rng.choice(["alpha", "beta", "gamma"], n, p=[0.4, 0.35, 0.25])
x = np.round(rng.normal(1.5, 1.0, n), 3)
ea = {"lo": 0.0, "mid": 0.7, "hi": -0.4}
eb = {"alpha": 0.0, "beta": 0.3, "gamma": 0.9}
sa = {"lo": 0.0, "mid": 0.4, "hi": -0.3}
sb = {"alpha": 0.0, "beta": -0.5, "gamma": 0.2}
y = (
    1.0
    + 0.6 * x
    + np.array([ea[v] for v in a])
    + np.array([eb[v] for v in b])
    + x * np.array([sa[v] + sb[w] for v, w in zip(a, b, strict=True)])
    + rng.normal(0, 0.8, 15)[g - 1]
    + rng.normal(0, 1.0, n)
)
pd.DataFrame({"y": np.round(y, 4), "x": x, "A": a, "B": b, "g": g}).to_csv("anova_coding.csv", index=False)
