"""Election forensics: statistical warning signs in station results, for observers and the commission.

Pure functions over numpy arrays of station results (no Django). The entry point is
:func:`analyse`, which runs every method on a :class:`StationTable` and returns a JSON-ready
report. The methods, each in its module:

* :mod:`~tallyroom.rules.forensics.klimek`: the turnout / leader-share fingerprint and fraud
  model of Klimek, Yegorov, Hanel and Thurner (PNAS 2012);
* :mod:`~tallyroom.rules.forensics.integers`: the integer-percentage test of Kobak, Shpilkin and
  Pshenichnikov (Annals of Applied Statistics 2016);
* :mod:`~tallyroom.rules.forensics.digits`: Mebane's second-digit Benford test and the
  Beber–Scacco last-digit test;
* :mod:`~tallyroom.rules.forensics.robust`: robust z within municipalities and the correlation
  of turnout with the leader's share.

Flags are warnings for a person to look at, never verdicts. docs/forensics.md has the methods,
the choices made, and the validation.
"""

from tallyroom.rules.forensics.csvsource import ColumnMapping, CsvMappingError, CsvSource, load_station_csv
from tallyroom.rules.forensics.digits import DigitTest, DigitTests, digit_test, digit_tests
from tallyroom.rules.forensics.integers import (
    IntegerPercentages,
    IntegerTest,
    integer_chances,
    integer_hits,
    integer_percentages,
)
from tallyroom.rules.forensics.klimek import Fingerprint, FraudModelFit, fingerprint, fit_fraud_model
from tallyroom.rules.forensics.report import CAVEAT, SCHEMA, ForensicsOptions, analyse, planned_units
from tallyroom.rules.forensics.robust import Correlation, Outliers, correlation, outliers, robust_z
from tallyroom.rules.forensics.table import ForensicsInputError, StationTable

__all__ = [
    "CAVEAT",
    "SCHEMA",
    "ColumnMapping",
    "Correlation",
    "CsvMappingError",
    "CsvSource",
    "DigitTest",
    "DigitTests",
    "Fingerprint",
    "ForensicsInputError",
    "ForensicsOptions",
    "FraudModelFit",
    "IntegerPercentages",
    "IntegerTest",
    "Outliers",
    "StationTable",
    "analyse",
    "correlation",
    "digit_test",
    "digit_tests",
    "fingerprint",
    "fit_fraud_model",
    "integer_chances",
    "integer_hits",
    "integer_percentages",
    "load_station_csv",
    "outliers",
    "planned_units",
    "robust_z",
]
