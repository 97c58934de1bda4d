"""Typed configs: dataclasses that load from and save to YAML, so every run records what it used."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import InputError

T = TypeVar("T")


def config_to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(cls: type[T], values: dict, source: str = "config") -> T:
    """Build `cls` from a (nested) dict; unknown keys are an error that names them."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(source, f"unknown key(s) {', '.join(unknown)} for {cls.__name__}")
    kwargs = {}
    for name, value in values.items():
        hint = hints.get(name)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value, f"{source}.{name}")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def load_config(cls: type[T], path: str | Path, overrides: dict | None = None) -> T:
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "config file not found")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(values, dict):
        raise InputError(str(path), "a config must be a mapping of keys to values")
    values.update(overrides or {})
    return config_from_dict(cls, values, str(path))


def save_config(config: Any, path: str | Path) -> None:
    from .io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))
