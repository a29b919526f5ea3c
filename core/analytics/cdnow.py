"""The CDNOW 1/10 sample shipped with Trellis (``core/analytics/data/``, its README says where it comes
from): 2,357 customers who first bought in Q1 1997 and their 6,919 purchases through June 1998.

:func:`purchases` reads it as rows ``(customer, day, cds, amount)`` for tests, demos and benchmarks; the
published BG/NBD and Gamma-Gamma parameters (calibration 1997-01-01..1997-09-30) are :data:`PUBLISHED`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Iterator

#: the sample file, inside the package
SAMPLE = Path(__file__).resolve().parent / "data" / "CDNOW_sample.txt"
#: the last day of the calibration period the published parameters were fitted on
CALIBRATION_END = date(1997, 9, 30)
#: Fader, Hardie & Lee (2005): BG/NBD and Gamma-Gamma on the sample as of CALIBRATION_END
PUBLISHED = {"bgnbd": {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259},
             "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44}}


@dataclass(frozen=True)
class Purchase:
    customer: int   # the customer id of the full data set
    day: date
    cds: int
    amount: Decimal  # US dollars, two decimals


def purchases(path: Path | str = SAMPLE) -> Iterator[Purchase]:
    """Every line of the sample (or a file of the same format) as a :class:`Purchase`, in file order."""
    with open(path, encoding="ascii") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                customer, _, day, cds, amount = line.split()
                yield Purchase(int(customer), date(int(day[:4]), int(day[4:6]), int(day[6:8])), int(cds),
                               Decimal(amount).quantize(Decimal("0.01")))
            except ValueError as exc:
                raise ValueError(f"{path}, line {number}: not 'customer id, sample id, YYYYMMDD, CDs, "
                                 f"dollars' ({exc})") from None
