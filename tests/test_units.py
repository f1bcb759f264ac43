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


def test_one_rounding_rule_for_object_sizes():
    """The graph's nodelets and the profile.proto writer's `bytes` label agree, and follow
    pprof's integer division: 101 bytes in 2 objects are objects of 50 bytes."""
    import numpy as np

    from heapviz.graph.build import _block_sizes
    from heapviz.model import Sample, object_size
    from heapviz.render.pprof_proto import _object_size

    pairs = ((0, 1), (2, 3))
    cases = [[2, 101, 0, 0], [3, 300, 1, 7], [0, 0, 3, 301], [7, 100, 7, 100], [3, 299.99999999999994, 0, 0],
             [1, 1, 0, 0], [0, 0, 0, 0], [5, 4, 0, 0]]
    arrays = _block_sizes(np.array(cases, dtype=np.float64), pairs).tolist()
    proto = [_object_size(Sample(list(c), ()), pairs) for c in cases]
    assert arrays == proto == [50, 100, 100, 14, 100, 1, 0, 0]
    assert object_size(2, 101) == 50 and object_size(0, 5) == 0
