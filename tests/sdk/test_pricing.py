"""PriceBook: exact integer micro-USD, rounding up, and loud errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from venice_sdk.pricing import ModelPrice, PriceBook, PriceBookError, UnknownModel

BOOK = {
    "models": {
        "small": {"input_per_million": "0.05", "output_per_million": "0.15"},
        "large": {"input_per_million": 0.7, "output_per_million": "2.80"},
        "img": {"per_image": "0.04"},
    }
}


@pytest.fixture
def book() -> PriceBook:
    return PriceBook.from_dict(BOOK)


def test_prices_are_integer_micro_usd(book: PriceBook) -> None:
    assert book.get("small") == ModelPrice("small", 50_000, 150_000)
    assert book.get("large") == ModelPrice("large", 700_000, 2_800_000)  # float 0.7 read exactly
    assert book.get("img") == ModelPrice("img", per_image=40_000)
    assert book.get("img").kind == "image" and book.get("small").kind == "text"


def test_token_price_rounds_up(book: PriceBook) -> None:
    # 1 token at $0.05/1M = 0.05 micro-USD: charged 1, never 0.
    assert book.price("small", 1) == 1
    assert book.price("small", 0) == 0
    # 20 tokens = exactly 1 micro-USD: no extra.
    assert book.price("small", 20) == 1
    assert book.price("small", 21) == 2
    # 1M in + 1M out = $0.20 exactly.
    assert book.price("small", 1_000_000, 1_000_000) == 200_000
    # input and output are summed before rounding: 10 + 3 tokens -> 0.5 + 0.45 -> 1.
    assert book.price("small", 10, 3) == 1
    assert book.price("large", 1234, 567) == -(-(1234 * 700_000 + 567 * 2_800_000) // 10**6)


def test_image_price(book: PriceBook) -> None:
    assert book.price("img", 0, images=3) == 120_000
    assert book.price("img", 0) == 0
    # The prompt's tokens are part of the image price.
    assert book.price("img", 500, images=1) == 40_000


def test_images_on_a_text_model_are_refused(book: PriceBook) -> None:
    with pytest.raises(ValueError, match="priced per token"):
        book.price("small", 10, images=1)


def test_unknown_model(book: PriceBook) -> None:
    with pytest.raises(UnknownModel, match="no price for model 'gpt-9'") as info:
        book.price("gpt-9", 10)
    assert info.value.model == "gpt-9"
    assert "small" in str(info.value)
    assert "gpt-9" not in book


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "images"])
def test_negative_counts_are_refused(book: PriceBook, field: str) -> None:
    counts = {"input_tokens": 0, "output_tokens": 0, "images": 0, field: -1}
    with pytest.raises(ValueError, match=f"{field} must not be negative"):
        book.price("img" if field == "images" else "small", **counts)


def test_non_int_counts_are_refused(book: PriceBook) -> None:
    with pytest.raises(TypeError):
        book.price("small", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        book.price("small", True)


def test_a_text_model_may_give_its_context_length() -> None:
    book = PriceBook.from_dict({"models": {"vl": {"input_per_million": "1",
        "output_per_million": "1", "context_tokens": 32_768}, "t": {"input_per_million": "1",
        "output_per_million": "1"}}})  # fmt: skip
    assert book.get("vl").context_tokens == 32_768
    assert book.get("t").context_tokens is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"input_per_million": "0.05"}, "model 'm': missing field 'output_per_million'"),
        (
            {"input_per_million": "-1", "output_per_million": "1"},
            "model 'm': field 'input_per_million': '-1' is negative",
        ),
        (
            {"input_per_million": "0.0000001", "output_per_million": "1"},
            "model 'm': field 'input_per_million': .* more than 6 decimal places",
        ),
        (
            {"input_per_million": "abc", "output_per_million": "1"},
            "model 'm': field 'input_per_million': 'abc' is not a number",
        ),
        (
            {"input_per_million": None, "output_per_million": "1"},
            "model 'm': field 'input_per_million' must be a USD amount",
        ),
        (
            {"input_per_million": True, "output_per_million": "1"},
            "model 'm': field 'input_per_million' must be a USD amount",
        ),
        ({"per_image": "NaN"}, "model 'm': field 'per_image': 'NaN' is not a finite amount"),
        ({"per_image": "1", "input_per_million": "1"}, "model 'm': field 'input_per_million'"),
        ({"per_imag": "1"}, "model 'm': unknown field 'per_imag'"),
        (
            {"input_per_million": "1", "output_per_million": "1", "context_tokens": "32k"},
            "model 'm': context_tokens must be a whole number of tokens .* not '32k'",
        ),
        (
            {"input_per_million": "1", "output_per_million": "1", "context_tokens": 0},
            "model 'm': context_tokens must be a whole number",
        ),
        ({"per_image": "1", "context_tokens": 4096}, "model 'm': field 'context_tokens' cannot"),
        ("0.05", "model 'm': expected a mapping"),
    ],
)
def test_bad_entries_name_model_and_field(entry: object, message: str) -> None:
    with pytest.raises(PriceBookError, match=message):
        PriceBook.from_dict({"models": {"m": entry}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "top-level 'models'"),
        ([], "top-level 'models'"),
        ({"models": {}}, "non-empty mapping"),
        ({"models": {"a": {"per_image": 1}}, "currency": "EUR"}, "unknown top-level field"),
    ],
)
def test_bad_books(data: object, message: str) -> None:
    with pytest.raises(PriceBookError, match=message):
        PriceBook.from_dict(data)


def test_load_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "prices.yaml"
    yaml_file.write_text(
        "models:\n  small:\n    input_per_million: 0.05\n    output_per_million: '0.15'\n"
    )
    json_file = tmp_path / "prices.json"
    json_file.write_text(json.dumps(BOOK))
    assert PriceBook.load(yaml_file).price("small", 1_000_000) == 50_000
    assert PriceBook.load(json_file).price("img", 0, images=1) == 40_000


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  big:\n    input_per_million: 1\n    output_per_million: x\n")
    with pytest.raises(PriceBookError, match=r"bad\.yaml: model 'big': field 'output_per_million'"):
        PriceBook.load(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(PriceBookError, match="not valid JSON"):
        PriceBook.load(broken)
    with pytest.raises(PriceBookError, match="cannot read price book"):
        PriceBook.load(tmp_path / "missing.yaml")


def test_default_book() -> None:
    book = PriceBook.default()
    assert len(book) >= 3
    kinds = {book.get(model).kind for model in book}
    assert kinds == {"text", "image"}
    # The protocol's example: a small open model at $0.05 per 1M input tokens.
    assert book.price("qwen3-4b", 1_000_000) == 50_000
