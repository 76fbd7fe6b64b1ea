"""Build step for the one compiled module; everything else is in pyproject.toml.

``mailtrace.logs._fastlog`` is the C fast path for RFC 3164 Postfix logs (see its source). It is
optional: where no C compiler is available the install still succeeds and the pure-Python parser,
which gives the same tables, does all the work.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "mailtrace.logs._fastlog",
            ["mailtrace/logs/_fastlog.c"],
            extra_compile_args=["-O3", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
            optional=True,
        )
    ]
)
