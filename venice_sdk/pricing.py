"""Per-model prices, held as integer micro-USD, and the price of one request.

A price book is a YAML or JSON file::

    models:
      llama-3.2-3b:            # text: USD per 1M input and per 1M output tokens
        input_per_million: "0.05"
        output_per_million: "0.15"
      qwen2.5-vl-7b:           # a text model that also reads images, audio or video
        input_per_million: "0.20"
        output_per_million: "0.60"
        context_tokens: 32768  # its context length: what such a request is held at
      flux-dev:                # image: USD per image
        per_image: "0.01"

USD amounts are decimal strings or numbers and are stored as integer micro-USD (1e-6 USD, the
USDC base unit): a price with more than six decimals is refused rather than rounded. A request
costs ``ceil((input * p_in + output * p_out) / 1_000_000) + images * p_image`` micro-USD: token
charges round up, so rounding always favours the protocol.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from venice_sdk.errors import VeniceError
from venice_sdk.units import AmountError, parse_units

__all__ = [
    "MICRO_USD",
    "TOKENS_PER_PRICE_UNIT",
    "ModelPrice",
    "PriceBook",
    "PriceBookError",
    "UnknownModel",
]

#: Base units per USD (USDC has 6 decimals).
MICRO_USD = 1_000_000
#: Text prices are quoted per this many tokens.
TOKENS_PER_PRICE_UNIT = 1_000_000

_TEXT_FIELDS = ("input_per_million", "output_per_million")
#: A text model's optional field: the most tokens its prompt may have (its context length).
_CONTEXT = "context_tokens"
_IMAGE_FIELDS = ("per_image",)


class PriceBookError(VeniceError, ValueError):
    """A price book that cannot be loaded; the message names the model and the field."""


class UnknownModel(VeniceError, LookupError):
    """A request for a model the price book has no price for."""

    def __init__(self, model: str, known: list[str]) -> None:
        self.model = model
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        super().__init__(f"no price for model '{model}' (priced models: {shown or 'none'})")

    def __str__(self) -> str:
        # LookupError/KeyError would quote the whole message; keep it readable.
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """One model's price in integer micro-USD.

    Text models set ``input_per_million`` and ``output_per_million`` (micro-USD per 1M tokens)
    and may set ``context_tokens``, the most tokens a prompt may have (the model's context
    length): a request whose prompt has images, audio or video, whose tokens its size in bytes
    does not bound, is held at that (`venice_sdk.gateway.estimate`). Image models set
    ``per_image`` (micro-USD per image). The other fields are ``None``.
    """

    model: str
    input_per_million: int | None = None
    output_per_million: int | None = None
    per_image: int | None = None
    context_tokens: int | None = None

    @property
    def kind(self) -> str:
        """``"text"`` or ``"image"``."""
        return "image" if self.per_image is not None else "text"


def _usd_to_micro(model: str, field: str, value: object) -> int:
    """Parse a USD amount (decimal string or number) into micro-USD, exactly."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise PriceBookError(
            f"model '{model}': field '{field}' must be a USD amount such as \"0.05\", not {value!r}"
        )
    # YAML reads an unquoted 0.05 as a float; repr() gives back the shortest text that reads as
    # that float, which is what the person wrote.
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        return parse_units(text, decimals=6)
    except AmountError as exc:
        raise PriceBookError(f"model '{model}': field '{field}': {exc}") from None


def _parse_model(model: object, entry: object) -> ModelPrice:
    if not isinstance(model, str) or not model.strip():
        raise PriceBookError(f"model name {model!r} must be a non-empty string")
    if not isinstance(entry, Mapping):
        raise PriceBookError(
            f"model '{model}': expected a mapping with input_per_million and "
            f"output_per_million (text) or per_image (image), got {entry!r}"
        )
    fields = set(entry)
    for field in sorted(map(str, fields - {*_TEXT_FIELDS, _CONTEXT, *_IMAGE_FIELDS})):
        raise PriceBookError(
            f"model '{model}': unknown field '{field}' (expected input_per_million and "
            f"output_per_million for text, or per_image for images)"
        )
    if "per_image" in fields:
        for field in (*_TEXT_FIELDS, _CONTEXT):
            if field in fields:
                raise PriceBookError(
                    f"model '{model}': field '{field}' cannot be combined with 'per_image' "
                    f"(a model is priced either per token or per image)"
                )
        return ModelPrice(model, per_image=_usd_to_micro(model, "per_image", entry["per_image"]))
    for field in _TEXT_FIELDS:
        if field not in fields:
            raise PriceBookError(f"model '{model}': missing field '{field}'")
    context = entry.get(_CONTEXT)
    if context is not None and (
        isinstance(context, bool) or not isinstance(context, int) or not 1 <= context <= 10**9
    ):
        raise PriceBookError(
            f"model '{model}': {_CONTEXT} must be a whole number of tokens (its context "
            f"length, e.g. 32768), not {context!r}"
        )
    return ModelPrice(
        model,
        input_per_million=_usd_to_micro(model, "input_per_million", entry["input_per_million"]),
        output_per_million=_usd_to_micro(model, "output_per_million", entry["output_per_million"]),
        context_tokens=context,
    )


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative (got {value})")


class PriceBook:
    """Prices per model, in integer micro-USD, and the price of a request."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._prices: dict[str, ModelPrice] = dict(prices)

    @classmethod
    def from_dict(cls, data: object) -> PriceBook:
        """Build a price book from parsed YAML/JSON: ``{"models": {name: {...}}}``."""
        if not isinstance(data, Mapping) or "models" not in data:
            raise PriceBookError("a price book needs a top-level 'models' mapping")
        models = data["models"]
        if not isinstance(models, Mapping) or not models:
            raise PriceBookError("'models' must be a non-empty mapping of model name to prices")
        extra = sorted(str(key) for key in data if key != "models")
        if extra:
            raise PriceBookError(f"unknown top-level field '{extra[0]}' (expected 'models')")
        return cls({str(name): _parse_model(name, entry) for name, entry in models.items()})

    @classmethod
    def loads(cls, text: str, fmt: str = "yaml") -> PriceBook:
        """Parse a price book from text in ``fmt`` (``"yaml"`` or ``"json"``)."""
        data: Any
        if fmt == "json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise PriceBookError(f"not valid JSON: {exc}") from None
        elif fmt == "yaml":
            try:
                # Imported by name: PyYAML is only needed for YAML price books.
                yaml: Any = importlib.import_module("yaml")
            except ImportError:
                raise PriceBookError(
                    "reading a YAML price book needs PyYAML (pip install PyYAML), "
                    "or give the prices as JSON"
                ) from None
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise PriceBookError(f"not valid YAML: {exc}") from None
        else:
            raise ValueError(f"unknown price book format '{fmt}' (use 'yaml' or 'json')")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> PriceBook:
        """Load a price book from a ``.json`` file, or a YAML file (any other suffix)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PriceBookError(f"cannot read price book {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise PriceBookError(f"price book {path} is not UTF-8 text") from None
        fmt = "json" if path.suffix.lower() == ".json" else "yaml"
        try:
            return cls.loads(text, fmt)
        except PriceBookError as exc:
            raise PriceBookError(f"{path}: {exc}") from None

    @classmethod
    def load_or_default(cls, path: str | Path | None) -> PriceBook:
        """The book at ``path`` (a server's ``--prices``), or the bundled one without it."""
        return cls.load(path) if path else cls.default()

    @classmethod
    def default(cls) -> PriceBook:
        """The price book shipped with the SDK (``venice_sdk/data/prices.yaml``)."""
        text = resources.files("venice_sdk").joinpath("data/prices.yaml").read_text("utf-8")
        return cls.loads(text, "yaml")

    def __contains__(self, model: object) -> bool:
        return model in self._prices

    def __iter__(self) -> Iterator[str]:
        return iter(self._prices)

    def __len__(self) -> int:
        return len(self._prices)

    def get(self, model: str) -> ModelPrice:
        """The price of ``model``; raises `UnknownModel` if it has none."""
        try:
            return self._prices[model]
        except KeyError:
            raise UnknownModel(model, sorted(self._prices)) from None

    def check_models(self, models: Iterable[str] | None) -> None:
        """Raise `UnknownModel` for the first of ``models`` without a price (a key's allowlist
        naming a model the book does not price would refuse every request it is meant for)."""
        for model in models or ():
            self.get(model)

    def price(self, model: str, input_tokens: int, output_tokens: int = 0, images: int = 0) -> int:
        """The price of one request in micro-USD, rounded up.

        Image models charge per image only (the prompt's tokens are part of it). Raises
        `UnknownModel` for a model without a price, `ValueError` for negative counts or for
        images asked of a text model: a misrouted request must not come out free.
        """
        _check_count("input_tokens", input_tokens)
        _check_count("output_tokens", output_tokens)
        _check_count("images", images)
        entry = self.get(model)
        if entry.per_image is not None:
            return images * entry.per_image
        if images:
            raise ValueError(f"model '{model}' is priced per token, not per image")
        p_in, p_out = entry.input_per_million or 0, entry.output_per_million or 0
        token_cost = input_tokens * p_in + output_tokens * p_out
        return -(-token_cost // TOKENS_PER_PRICE_UNIT)
