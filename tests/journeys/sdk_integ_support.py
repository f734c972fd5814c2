"""A small stand-in for the public ``sagemaker-sample-data-<region>`` bucket's census CSV
(``processing/census/census-income.csv``), which the SDK's integration tests (through
``sdk_integ/integ_conftest.py``), the mlmax pipelines and the processing notebooks read. Our own code: the
columns those projects' preprocessing scripts select, with values generated here."""

from __future__ import annotations

import random


def census_csv(rows: int) -> bytes:
    """The columns the notebook's own preprocessing.py selects, both income classes, some duplicate-free noise."""
    rng = random.Random(1)
    lines = ["age,education,major industry code,class of worker,num persons worked for employer,"
             "capital gains,capital losses,dividends from stocks,income"]
    for _ in range(rows):
        age, education = rng.randint(18, 80), rng.choice([" Bachelors degree", " High school graduate", " Masters degree"])
        gains = rng.choice([0, 0, rng.randint(1000, 20000)])
        score = (age - 40) / 10 + gains / 5000 + (1.5 if education == " Masters degree" else 0)
        income = " 50000+." if score + rng.gauss(0, 0.7) > 1.0 else " - 50000."
        lines.append(",".join(map(str, [
            age, education, rng.choice([" Retail trade", " Construction", " Education"]),
            rng.choice([" Private", " Self-employed", " Local government"]), rng.randint(0, 6), gains,
            rng.choice([0, 0, rng.randint(100, 2000)]), rng.randint(0, 5000), income])))
    return ("\n".join(lines) + "\n").encode()
