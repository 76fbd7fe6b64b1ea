"""Build step for the three compiled modules; everything else is in pyproject.toml.

``mailtrace.logs._fastlog`` is the C fast path for RFC 3164 Postfix logs,
``mailtrace._parquet_pages`` encodes Parquet pages from Arrow buffers, and
``mailtrace._pathcore`` numbers the queue files and string values of the delivery paths,
blanks the variable parts of replies and takes rows from columns of many chunks (see their
sources). All are optional: where no C compiler is available the install still succeeds, the
pure-Python parser gives the same tables, pyarrow writes the Parquet files, and NumPy and Arrow
do the numbering, the blanking and the takes."""

from setuptools import Extension, setup

_FLAGS = ["-O3", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]

setup(
    ext_modules=[
        Extension(
            "mailtrace.logs._fastlog",
            ["mailtrace/logs/_fastlog.c"],
            depends=["mailtrace/_ends.h"],
            extra_compile_args=_FLAGS,
            optional=True,
        ),
        Extension(
            "mailtrace._pathcore",
            ["mailtrace/_pathcore.c"],
            depends=["mailtrace/_ends.h"],
            extra_compile_args=_FLAGS,
            optional=True,
        ),
        Extension(
            "mailtrace._parquet_pages",
            ["mailtrace/_parquet_pages.c"],
            depends=["mailtrace/_ends.h"],
            extra_compile_args=_FLAGS,
            optional=True,
        ),
    ]
)
