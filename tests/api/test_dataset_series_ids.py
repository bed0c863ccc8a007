"""One rule for CSV and JSON ids: surrounding spaces are not part of an id, and ids are kept in
Unicode NFC; look-alike letters of different scripts stay different ids."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_datasets import dataset_total, error_of, upload_csv, upload_json


def series_ids(body: dict[str, Any]) -> list[str]:
    return [part["id"] for part in body["series"]]


def test_ids_lose_their_surrounding_spaces_in_csv_and_json(client: TestClient) -> None:
    text = "unique_id,y\na,1\n a ,2\nb\t,3\n"
    assert series_ids(upload_csv(client, text).json()) == ["a", "b"]
    body = {"series": [{"id": " a", "values": [1]}, {"id": "b ", "values": [2]}]}
    assert series_ids(upload_json(client, body).json()) == ["a", "b"]


def test_json_ids_equal_but_for_surrounding_spaces_are_a_duplicate(client: TestClient) -> None:
    body = {"series": [{"id": "a", "values": [1]}, {"id": " a ", "values": [2]}]}
    message = error_of(upload_json(client, body), 422, "duplicate_series_id", "series[1].id")
    assert message.startswith("series[1]: the id 'a' is series[0]'s too")
    assert dataset_total(client) == 0


NFC, NFD = "caf\u00e9", "cafe\u0301"  # the same word, its accent composed or combining


def test_ids_are_kept_in_nfc_so_composed_and_combining_accents_are_one_id(
    client: TestClient,
) -> None:
    text = f"unique_id,y\n{NFD},1\n{NFC},2\n"
    assert series_ids(upload_csv(client, text).json()) == [NFC]
    body = {"series": [{"id": NFD, "values": [1]}]}
    assert series_ids(upload_json(client, body).json()) == [NFC]
    twice = {"series": [{"id": NFC, "values": [1]}, {"id": NFD, "values": [2]}]}
    error_of(upload_json(client, twice), 422, "duplicate_series_id", "series[1].id")
    wide = f"date,{NFC},{NFD}\n2024-01-01,1,2\n"
    message = error_of(upload_csv(client, wide, layout="columns_are_series"), 422,
                       "invalid_input", "file")  # fmt: skip
    assert message.startswith(f"duplicate column name {NFC!r}")


def test_look_alike_letters_of_different_scripts_stay_different_ids(client: TestClient) -> None:
    latin, cyrillic = "a", "\u0430"
    body = {"series": [{"id": latin, "values": [1]}, {"id": cyrillic, "values": [2]}]}
    assert series_ids(upload_json(client, body).json()) == [latin, cyrillic]
