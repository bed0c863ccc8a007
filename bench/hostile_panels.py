"""Panel uploads a careless or hostile client might send: the cases a probe of the many-series
surfaces found (frequencies no time can follow, header-only and blank files, dates out of
range, zoned and daylight-saving days, ids that differ by spaces or normal form), and random
panels in every layout, for `bench/soak.py`."""

from __future__ import annotations

import json
import random
import unicodedata
from datetime import date, timedelta

Request = tuple[str, dict[str, object]]  # (what it is, httpx keyword arguments of the POST)


def _csv(name: str, text: str, **form: str) -> Request:
    return name, {"files": {"file": ("p.csv", text.encode(), "text/csv")}, "data": form}


def _json(name: str, body: object) -> Request:
    return name, {"content": json.dumps(body).encode(),
                  "headers": {"content-type": "application/json"}}  # fmt: skip


def edge_cases() -> list[Request]:
    """One of each defect the probe found, and its neighbours."""
    daily = "\n".join(f"2021-01-0{day},{day}" for day in range(1, 8))
    found: list[Request] = []
    for freq in ("1ns", "500ns", "1500ns", "99999999999999D", "9999YS", "0D", "-1D", "D"):
        found += [
            _json(
                f"json freq {freq}",
                {"values": [1, 2, 3, 4, 5], "start": "2020-01-01", "freq": freq},
            ),  # fmt: skip
            _json(
                f"series freq {freq}",
                {"series": [{"id": "a", "start": "2020-01-01", "freq": freq, "values": [1, 2, 3]}]},
            ),  # fmt: skip
            _csv(f"csv freq {freq}", f"date,y\n{daily}\n", freq=freq),
            _csv(f"one row freq {freq}", "unique_id,ds,y\na,2020-01-01,1\n", freq=freq),
        ]
    for count in (1, 999, 100_000, 10**14, 10**20):  # every alias, at every magnitude
        for alias in ("C", "cbh", "CBMS", "BQS", "RE-N-DEC-MON", "D", "us", "YS"):
            found.append(_json(f"freq {count}{alias}", {"values": [1, 2, 3], "start": "2020-01-01",
                                                         "freq": f"{count}{alias}"}))  # fmt: skip
    for start in ("1678-01-01T00:00+14:00", "1678-01-01T00:00-14:00", "2262-04-11T00:00+14:00",
                  "2262-04-11T00:00-14:00", "9999-12-31T00:00+05:00"):  # fmt: skip
        for freq in ("D", "h", "MS"):
            found.append(_json(f"start {start} at {freq}", {"values": [1, 2], "start": start,
                                                          "freq": freq}))  # fmt: skip
    blanks = ["date,y\n", "unique_id,ds,y\n", "time\n", ",y\n", " ", ",", "\t", "\x0b", "\x0c",
              "\u2028", *(chr(code) for code in range(0x1C, 0x20)), "", "\n\n"]  # fmt: skip
    found += [_csv(f"blank {text!r}", text) for text in blanks]
    for start in ("0001-01-01", "9999-12-31", "2262-04-12", "1677-09-21", "2020-01-01T00:00+05:00"):
        found.append(_json(f"start {start}", {"values": [1, 2, 3], "start": start, "freq": "MS"}))
    found += [
        _csv("csv dates out of range", "date,y\n0001-01-01,1\n0001-01-02,2\n"),
        _csv(
            "daily across a clock change",
            "date,y\n2021-03-27T00:00+01:00,1\n"
            "2021-03-28T00:00+01:00,2\n2021-03-29T00:00+02:00,3\n",
        ),  # fmt: skip
        _csv("ids with spaces", "unique_id,ds,y\na,2020-01-01,1\n a ,2020-01-02,2\n"),
        _csv(
            "ids in two normal forms",
            "unique_id,ds,y\n"
            f"{unicodedata.normalize('NFC', 'café')},2020-01-01,1\n"
            f"{unicodedata.normalize('NFD', 'café')},2020-01-02,2\n",
        ),  # fmt: skip
        _json(
            "json ids in two normal forms",
            {
                "series": [
                    {"id": unicodedata.normalize("NFC", "é"), "values": [1, 2]},
                    {"id": unicodedata.normalize("NFD", "é"), "values": [3, 4]},
                ]
            },
        ),  # fmt: skip
        _csv("latin and cyrillic ids", "unique_id,ds,y\na,2020-01-01,1\n\u0430,2020-01-01,2\n"),
    ]
    return found


IDS = ["a", "b", " c", "d ", "é", "e\u0301", "\u0430", "x" * 70, "", "\u200b", "n\u0000", "7"]
FREQS = ["D", "W-SUN", "MS", "ME", "QS", "YS", "h", "30min", "1ns", "B", "", "xyz"]
STARTS = ["2020-01-01", "1999-12-31", "2262-04-11", "0001-01-01", "2020-02-30", "2020", "1959Q1"]


def random_panel(rng: random.Random) -> Request:
    """A random panel: long CSV, wide CSV or JSON, with ids, dates, frequencies and values
    drawn from what users (and fuzzers) send."""
    series = rng.randint(0, 4)
    kind = rng.choice(["long", "wide", "json"])
    values = [rng.choice([1, -2.5, 1e16, 0, "", "nan", "1e999", "x"]) for _ in range(40)]
    if kind == "json":
        body = {
            "series": [
                {
                    "id": rng.choice(IDS),
                    "start": rng.choice(STARTS),
                    "freq": rng.choice(FREQS),
                    "values": [v for v in values[: rng.randint(0, 12)] if not isinstance(v, str)],
                }
                for _ in range(series)
            ]
        }
        return _json("random json panel", body)
    if kind == "wide":
        header = ",".join(["date", *(rng.choice(IDS) for _ in range(series))])
        rows = [",".join([rng.choice(STARTS), *(str(rng.choice(values)) for _ in range(series))])
                for _ in range(rng.randint(0, 8))]  # fmt: skip
        return _csv("random wide panel", "\n".join([header, *rows]),
                    layout="columns_are_series", freq=rng.choice(FREQS))  # fmt: skip
    rows = [f"{rng.choice(IDS)},{rng.choice(STARTS)},{rng.choice(values)}"
            for _ in range(rng.randint(0, 12))]  # fmt: skip
    form = {"freq": rng.choice(FREQS)} if rng.random() < 0.5 else {}
    return _csv("random long panel", "\n".join(["unique_id,ds,y", *rows]), **form)


def big_panel_csv(series: int, rows: int) -> str:
    """`series` daily series of `rows` rows each as a long CSV: the size that held the event
    loop when answers were built there."""
    days = [(date(2020, 1, 1) + timedelta(days=day)).isoformat() for day in range(rows)]
    lines = ["unique_id,ds,y"]
    for number in range(series):
        lines += [f"s{number},{day},{(number + k) % 97}" for k, day in enumerate(days)]
    return "\n".join(lines) + "\n"
