"""The public API is curated: ``rolegate.__all__`` is exactly what the package exports."""

from __future__ import annotations

import importlib
from inspect import ismodule

import rolegate


def test_public_api_is_curated() -> None:
    exported = {n for n, v in vars(rolegate).items() if not n.startswith("_") and not ismodule(v)}
    assert rolegate.__all__ == sorted(exported)


def test_every_public_name_is_importable_from_the_package_root() -> None:
    namespace: dict[str, object] = {}
    exec("from rolegate import *", namespace)  # fails on any name in __all__ that is missing
    namespace.pop("__builtins__")
    assert namespace == {name: getattr(rolegate, name) for name in rolegate.__all__}


def test_errors_carry_stable_distinct_codes() -> None:
    errors = importlib.import_module("rolegate.errors")
    classes = [
        v
        for v in vars(errors).values()
        if isinstance(v, type) and issubclass(v, rolegate.RolegateError)
    ]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    assert all(getattr(rolegate, cls.__name__) is cls for cls in classes)
