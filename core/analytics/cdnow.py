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


#: the columns of the files :func:`write_import_files` writes (``trellis import customers|interactions``)
CUSTOMER_COLUMNS = ("external_id", "name", "kind")
PURCHASE_COLUMNS = ("external_id", "customer_external_id", "kind", "occurred_at", "amount", "direction", "status",
                    "subject")


def customer_external_id(customer: int) -> str:
    return f"cdnow-{customer:05d}"


def write_import_files(directory: Path | str, path: Path | str = SAMPLE) -> tuple[Path, Path]:
    """The sample as the two CSV files ``trellis import`` reads, in ``directory``: ``cdnow_customers.csv``
    (one person per CDNOW customer id, external id ``cdnow-00004``) and ``cdnow_purchases.csv`` (one
    ``purchase`` interaction per line, at noon UTC of its day, external id ``cdnow-line-<line>``). Returns
    their paths, customers first (the purchases refer to them by external id)."""
    import csv

    directory = Path(directory)
    customers_path, purchases_path = directory / "cdnow_customers.csv", directory / "cdnow_purchases.csv"
    seen: set[int] = set()
    with open(customers_path, "w", newline="", encoding="utf-8") as cf, \
            open(purchases_path, "w", newline="", encoding="utf-8") as pf:
        customers_out, purchases_out = csv.writer(cf), csv.writer(pf)
        customers_out.writerow(CUSTOMER_COLUMNS)
        purchases_out.writerow(PURCHASE_COLUMNS)
        for line, p in enumerate(purchases(path), 1):
            ext = customer_external_id(p.customer)
            if p.customer not in seen:
                seen.add(p.customer)
                customers_out.writerow((ext, f"CDNOW customer {p.customer:05d}", "person"))
            purchases_out.writerow((f"cdnow-line-{line}", ext, "purchase", f"{p.day.isoformat()}T12:00:00Z",
                                    str(p.amount), "inbound", "done", f"{p.cds} CD(s)"))
    return customers_path, purchases_path
