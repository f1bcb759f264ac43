"""C++ demangling (libstdc++'s __cxa_demangle through ctypes, c++filt as fallback) and
pprof-style name simplification (no parameters, optionally no template arguments).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import shutil
import subprocess
from collections.abc import Iterable

DEMANGLE_MODES = ("default", "templates", "full", "none")


class _CxaDemangler:
    def __init__(self) -> None:
        self._fn = None
        self._free = None
        path = ctypes.util.find_library("stdc++")
        candidates = [path] if path else []
        candidates += ["libstdc++.so.6"]
        for cand in candidates:
            try:
                lib = ctypes.CDLL(cand)
                fn = getattr(lib, "__cxa_demangle")  # not lib.__cxa_demangle: a class body would mangle that name
            except (OSError, AttributeError):
                continue
            fn.restype = ctypes.c_void_p
            fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.free.argtypes = [ctypes.c_void_p]
            self._fn = fn
            self._free = libc.free
            break

    @property
    def available(self) -> bool:
        return self._fn is not None

    def __call__(self, name: str) -> str | None:
        assert self._fn is not None and self._free is not None
        status = ctypes.c_int(0)
        ptr = self._fn(name.encode("utf-8", "surrogateescape"), None, None, ctypes.byref(status))
        if status.value != 0 or not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode("utf-8", "surrogateescape")
        finally:
            self._free(ptr)


_cxa = _CxaDemangler()


def _looks_mangled(name: str) -> bool:
    return name.startswith("_Z")


def _split_suffix(name: str) -> tuple[str, str]:
    """Split GCC clone suffixes (`.cold`, `.isra.0`, `.part.1`) off a mangled name."""
    i = name.find(".", 2)
    if i > 0:
        return name[:i], name[i:]
    return name, ""


@functools.lru_cache(maxsize=1 << 17)
def demangle(name: str) -> str:
    """The full demangled name, or the name itself when it is not a C++ mangled name."""
    if not _looks_mangled(name):
        return name
    if _cxa.available:
        out = _cxa(name)
        if out is not None:
            return out
        base, suffix = _split_suffix(name)
        if suffix:
            out = _cxa(base)
            if out is not None:
                return f"{out} [clone {suffix}]"
        return name
    return demangle_many([name])[0]


def demangle_many(names: Iterable[str]) -> list[str]:
    """Demangle a batch; uses one c++filt process when libstdc++ cannot be loaded."""
    names = list(names)
    if _cxa.available:
        return [demangle(n) for n in names]
    cxxfilt = shutil.which("c++filt")
    if not cxxfilt or not names:
        return names
    out = subprocess.run(
        [cxxfilt], input="\n".join(names) + "\n", capture_output=True, text=True, timeout=120, check=False
    ).stdout.splitlines()
    return out if len(out) == len(names) else names


# Operator spellings, longest first so that `operator<<=` is not read as `operator<`.
_OPERATORS = sorted(
    [
        "()", "[]", "->*", "->", "<=>", "<<=", ">>=", "<<", ">>", "<=", ">=", "==", "!=",
        "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
        "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "~", "!", "=", ",",
        " new[]", " delete[]", " new", " delete", "\"\" ",
    ],
    key=len,
    reverse=True,
)
_TRAILING_QUALIFIERS = {"const", "volatile", "&", "&&", "noexcept", "throw()"}


def _atoms(name: str, keep_templates: bool) -> list[str]:
    """Split a demangled name at top-level spaces, dropping parameter lists and, unless
    keep_templates, template arguments. `operator…`, `(anonymous namespace)` and
    `{lambda(…)#N}` are kept whole."""
    atoms: list[str] = []
    cur: list[str] = []
    i, n = 0, len(name)
    while i < n:
        c = name[i]
        if name.startswith("operator", i) and (i == 0 or not (name[i - 1].isalnum() or name[i - 1] == "_")):
            j = i + len("operator")
            cur.append("operator")
            for op in _OPERATORS:
                if name.startswith(op, j):
                    cur.append(op)
                    j += len(op)
                    if op.endswith("<") and name.startswith(" <", j):
                        j += 1  # `operator< <char>`: the space only separates the template
                    break
            else:
                if j < n and name[j] == " ":  # conversion operator: `operator int`
                    cur.append(" ")
                    j += 1
            i = j
            continue
        if name.startswith("(anonymous namespace)", i):
            cur.append("(anonymous namespace)")
            i += len("(anonymous namespace)")
            continue
        if c == "{":
            j = _match(name, i, "{", "}")
            cur.append(name[i:j])
            i = j
            continue
        if c == "<":
            j = _match(name, i, "<", ">")
            if keep_templates:
                cur.append(name[i:j])
            i = j
            continue
        if c == "(":
            i = _match(name, i, "(", ")")
            continue
        if c == "[" and name.startswith("[clone ", i):
            i = _match(name, i, "[", "]")
            continue
        if c == " ":
            if cur:
                atoms.append("".join(cur))
                cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    if cur:
        atoms.append("".join(cur))
    return atoms


def _match(s: str, i: int, open_c: str, close_c: str) -> int:
    """Index just past the bracket that closes s[i], honouring nesting of all bracket kinds."""
    depth = 0
    j = i
    n = len(s)
    while j < n:
        c = s[j]
        if s.startswith("operator", j):
            # operator<< / operator() inside template arguments must not unbalance us.
            k = j + len("operator")
            for op in _OPERATORS:
                if s.startswith(op, k):
                    j = k + len(op)
                    break
            else:
                j = k
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return n


@functools.lru_cache(maxsize=1 << 17)
def simplify(name: str, keep_templates: bool = False) -> str:
    """pprof's default short name: no parameters, no return type, no template arguments."""
    if not any(c in name for c in "(< ") or (name.startswith("[") and name.endswith("]")):
        return name  # plain C names, and pseudo frames such as "[unknown stack]"
    if "::" not in name and ".(" in name:
        return name  # a Go method, `pkg.(*Type).Method`: its parentheses are no parameter list
    atoms = _atoms(name, keep_templates)
    while len(atoms) > 1 and atoms[-1] in _TRAILING_QUALIFIERS:
        atoms.pop()
    if not atoms:
        return name
    for k, atom in enumerate(atoms):
        if atom == "operator" or atom.endswith(("::operator", "operator")):
            return " ".join(atoms[k:]).replace("operator ", "operator ", 1)
    return atoms[-1]


def display_name(full: str, system: str, mode: str) -> str:
    """The name shown for a function under --demangle MODE."""
    if mode == "none":
        return system or full
    if mode == "full":
        return full
    return simplify(full, keep_templates=(mode == "templates"))
