import pytest

from heapviz.symbolize.demangle import demangle, display_name, simplify

CASES = [
    (("std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(__gnu_cxx::__normal_iterator<int*, "
     "std::vector<int, std::allocator<int> > >, int const&)"), "std::vector::_M_realloc_insert"),
    ("hv::(anonymous namespace)::leak()", "hv::(anonymous namespace)::leak"),
    ("main::{lambda(int)#1}::operator()(int) const", "main::{lambda(int)#1}::operator()"),
    ("operator<<(std::ostream&, Foo const&)", "operator<<"),
    ("std::map<int, int>::operator[](int const&)", "std::map::operator[]"),
    ("void hv::make<int>(int)", "hv::make"),
    ("operator new(unsigned long)", "operator new"),
    ("operator delete[](void*)", "operator delete[]"),
    ("hv::Foo::operator int() const", "hv::Foo::operator int"),
    ("hv::Cache<std::map<int, std::string>, 17>::get(int) [clone .cold]", "hv::Cache::get"),
    ("bool std::operator< <char>(std::string const&, std::string const&)", "std::operator<"),
    ("hv::Printer::operator<<(int)", "hv::Printer::operator<<"),
    ("hv::Node::operator->() const", "hv::Node::operator->"),
    ("leak_a", "leak_a"),
    ("libfoo.so+0x1a2b", "libfoo.so+0x1a2b"),
    ("[unknown stack]", "[unknown stack]"),
]


@pytest.mark.parametrize("full,short", CASES)
def test_simplify_like_pprof_default(full, short):
    assert simplify(full) == short


def test_templates_mode_keeps_arguments():
    assert simplify("void hv::make<int>(int)", keep_templates=True) == "hv::make<int>"
    assert simplify("std::map<int, int>::operator[](int const&)", True) == "std::map<int, int>::operator[]"


def test_demangle_itanium_and_clones():
    assert demangle("_ZN2hv4leakEv") == "hv::leak()"
    assert demangle("_Z3fooi.cold") == "foo(int) [clone .cold]"
    assert demangle("main") == "main"
    assert demangle("_Znotvalid") == "_Znotvalid"


def test_display_modes():
    full, system = "hv::leak(int)", "_ZN2hv4leakEi"
    assert display_name(full, system, "default") == "hv::leak"
    assert display_name(full, system, "full") == full
    assert display_name(full, system, "none") == system


def test_libstdcxx_demangler_is_loaded():
    """In-process demangling through libstdc++ (c++filt is the slow fallback): a class body once
    mangled the name `lib.__cxa_demangle` and the fallback ran every time."""
    import importlib

    module = importlib.import_module("heapviz.symbolize.demangle")
    cxa = module._CxaDemangler()
    assert cxa.available
    assert cxa("_ZN2hv4Pool4growEm") == "hv::Pool::grow(unsigned long)"
