"""Write samples of a symbolized Profile as pprof's profile.proto (gzipped unless asked not to).

What is written is what heapviz shows: the stacks after symbolization, allocator-frame pruning
and filters, every location with its (inline) lines, so pprof or Go need no binary to read it.
Output is deterministic: no timestamps, ids numbered in order of first use.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Sequence

from heapviz.formats import profile_pb2
from heapviz.model import Function, Location, Mapping, Profile, Sample, Value, object_size
from heapviz.symbolize.demangle import display_name
from heapviz.symbolize.raw import unnamed_object

_INT64_MAX = (1 << 63) - 1


def to_int64(v: Value) -> int:
    """Sampled values are exact floats in heapviz; profile.proto holds integers, rounded half away from 0."""
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"value {v} cannot be written to profile.proto")
        v = int(math.copysign(math.floor(abs(v) + 0.5), v))
    return max(-_INT64_MAX - 1, min(_INT64_MAX, v))


class _Strings:
    def __init__(self, msg: profile_pb2.Profile) -> None:
        self.msg = msg
        self.index: dict[str, int] = {}
        self("")

    def __call__(self, s: str) -> int:
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.index)
            self.msg.string_table.append(s.encode("utf-8", "surrogateescape"))
        return i


def to_proto(profile: Profile, samples: Sequence[Sample] | None = None, default_sample_type: str = "",
             compress: bool = True, demangle: str = "default") -> bytes:
    """profile.proto bytes for `samples` (default: all of the profile's).

    Function names are written as pprof's own `-proto` output has them: `name` shortened by the
    demangle mode (default: no parameters or template arguments), `system_name` as found in the
    binary (mangled), from which a reader can recover the full name.
    """
    msg = profile_pb2.Profile()
    s = _Strings(msg)
    for vt in profile.sample_types:
        msg.sample_type.add(type=s(vt.type), unit=s(vt.unit))
    names = [vt.type for vt in profile.sample_types]
    default = default_sample_type or profile.default_sample_type
    if default in names:
        msg.default_sample_type = s(default)
    if profile.period_type is not None:
        msg.period_type.type = s(profile.period_type.type)
        msg.period_type.unit = s(profile.period_type.unit)
    msg.period = profile.period
    for c in profile.comments:
        msg.comment.append(s(c))

    # Every mapping, in the profile's order: pprof and heapviz take the first one that is not a
    # shared library as the main program ("File:").
    mapping_ids: dict[int, int] = {}
    for m in profile.mappings:
        if id(m) not in mapping_ids:
            mapping_ids[id(m)] = len(mapping_ids) + 1
            _mapping(msg.mapping.add(), m, mapping_ids[id(m)], s, profile.symbolized)

    function_ids: dict[tuple[str, str, str, int], int] = {}
    shown: dict[tuple[str, str], str] = {}
    location_ids: dict[int, int] = {}
    unsymbolized: set[int] = set()

    def function_id(fn: Function) -> int:
        name = shown.get((fn.name, fn.system_name))
        if name is None:
            name = shown[(fn.name, fn.system_name)] = display_name(fn.name, fn.system_name, demangle)
        key = (name, fn.system_name, fn.filename, fn.start_line)
        fid = function_ids.get(key)
        if fid is None:
            fid = function_ids[key] = len(function_ids) + 1
            msg.function.add(id=fid, name=s(name), system_name=s(fn.system_name or fn.name),
                             filename=s(fn.filename), start_line=fn.start_line)
        return fid

    def location_id(loc: Location) -> int:
        # Keyed by object: filters may replace a location with a changed copy that keeps its id.
        lid = location_ids.get(id(loc))
        if lid is None:
            lid = location_ids[id(loc)] = len(location_ids) + 1
            pb = msg.location.add(id=lid, address=loc.address)
            # an address the symbolizer could not name is written without lines, as it came, so
            # that a reader groups its object file's unnamed code ([libfoo.so]) as pprof does
            lines = () if unnamed_object(loc) else loc.lines
            if loc.mapping is not None:
                pb.mapping_id = mapping_ids.setdefault(id(loc.mapping), 0)
                if not lines:
                    unsymbolized.add(pb.mapping_id)
            for ln in lines:
                pb.line.add(function_id=function_id(ln.function), line=ln.line, column=ln.column)
        return lid

    size_key = s("bytes") if profile.size_pairs else 0
    for sample in profile.samples if samples is None else samples:
        pb = msg.sample.add()
        pb.value.extend(to_int64(v) for v in sample.values)
        pb.location_id.extend(location_id(loc) for loc in sample.locations)
        size = _object_size(sample, profile.size_pairs)
        if size:
            pb.label.add(key=size_key, num=size, num_unit=size_key)
        for label in sample.labels:
            if len(label) == 2:
                pb.label.add(key=s(label[0]), str=s(str(label[1])))
            else:
                pb.label.add(key=s(label[0]), num=int(label[1]), num_unit=s(str(label[2])))
    for m in msg.mapping:
        if m.id in unsymbolized:
            m.has_functions = m.has_filenames = m.has_line_numbers = m.has_inline_frames = False
    data = msg.SerializeToString()
    return gzip.compress(data, mtime=0) if compress else data


def _mapping(pb: profile_pb2.Mapping, m: Mapping, mid: int, s: _Strings, symbolized: bool) -> None:
    pb.id = mid
    pb.memory_start = m.start
    pb.memory_limit = m.limit
    pb.file_offset = m.offset
    pb.filename = s(m.file)
    pb.build_id = s(m.build_id)
    # Every location written has its lines, so nothing is left for a reader to symbolize.
    pb.has_functions = pb.has_filenames = pb.has_line_numbers = True
    pb.has_inline_frames = symbolized


def _object_size(sample: Sample, pairs: tuple[tuple[int, int], ...]) -> int:
    """pprof's `bytes` label: the size of one object, from the first pair with a count."""
    for ci, bi in pairs:
        count = sample.values[ci]
        if count:
            return to_int64(object_size(count, sample.values[bi]))
    return 0
