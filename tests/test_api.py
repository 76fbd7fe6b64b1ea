"""The public API stays short, sorted and honest."""

from __future__ import annotations

import mailtrace


def test_all_is_sorted_and_unique() -> None:
    assert list(mailtrace.__all__) == sorted(set(mailtrace.__all__))


def test_every_exported_name_exists() -> None:
    for name in mailtrace.__all__:
        assert getattr(mailtrace, name) is not None, name


def test_no_public_name_is_left_out_of_all() -> None:
    public = {
        name
        for name, value in vars(mailtrace).items()
        if not name.startswith("_") and not getattr(value, "__file__", None)  # skip submodules
    }
    assert public == set(mailtrace.__all__)
