from heapviz.units import choose_unit, format_value, percentage


def test_percentage_matches_pprof():
    assert percentage(100, 100) == "  100%"
    assert percentage(50, 100) == "50.00%"
    assert percentage(1, 1000) == "  0.1%"
    assert percentage(0, 1000) == "    0%"
    assert percentage(1, 100000) == "0.001%"
    assert percentage(5, 0) == "    0%"


def test_format_value_pprof_units():
    assert format_value(0, "bytes", "B") == "0"
    assert format_value(100000, "bytes", "B") == "100000B"
    assert format_value(100000, "bytes", "kB") == "97.66kB"
    assert format_value(1024, "bytes", "kB") == "1kB"
    assert format_value(3 * 1024 * 1024, "bytes", "MB") == "3MB"
    assert format_value(12.6, "count", "") == "13"


def test_minimum_unit_rule():
    # smallest node 100 B, total 10 MB: min*100 < max, so the unit of 100*min (kB) is used
    assert choose_unit("bytes", "minimum", [(100, 100), (0, 10 << 20)], 10 << 20) == "kB"
    assert choose_unit("bytes", "minimum", [(2048, 2048)], 4096) == "kB"
    assert choose_unit("bytes", "B", [(2048, 2048)], 4096) == "B"
    assert choose_unit("count", "minimum", [(5, 5)], 5) == ""
