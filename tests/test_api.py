"""The public API stays short, sorted and honest."""

from __future__ import annotations

import subprocess
import sys

import mailtrace


def test_all_is_sorted_and_unique() -> None:
    assert list(mailtrace.__all__) == sorted(set(mailtrace.__all__))


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in mailtrace.__all__:
        value = getattr(mailtrace, name)
        assert value is not None, name
        assert (value.__doc__ or "").strip(), f"{name} has no docstring"


def test_no_public_name_is_left_out_of_all() -> None:
    for name in mailtrace.__all__:
        getattr(mailtrace, name)  # load every lazy name first
    public = {
        name
        for name, value in vars(mailtrace).items()
        if not name.startswith("_")
        and (name in mailtrace.__all__ or not getattr(value, "__file__", None))  # submodules
        and name not in {"annotations", "import_module", "TYPE_CHECKING", "Any"}
    }
    assert public == set(mailtrace.__all__)


def test_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(mailtrace, "no_such_function")


def test_importing_mailtrace_does_not_load_pandas() -> None:
    # The CLI imports the package on every run: heavy libraries must wait until they are needed.
    code = "import sys, mailtrace; print('pandas' in sys.modules, 'pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
