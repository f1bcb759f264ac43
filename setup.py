"""The one compiled part of heapviz: the sample-line scanner for gperftools heap profiles.

Optional: where it cannot be compiled (no C compiler or Python headers), heapviz installs
without it and parses in pure Python, a few times slower on big files.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "heapviz.formats._heapscan",
            ["heapviz/formats/_heapscan.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
        )
    ]
)
