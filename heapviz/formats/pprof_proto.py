"""pprof's protocol-buffer profiles (profile.proto): Go's heap profiles, `pprof -proto` output
and heapviz's own `convert` output, gzipped or not (load() has already undone gzip).

Parses into the model as it is: symbolized locations keep their lines and need no binary;
locations without lines keep their address and mapping for heapviz's symbolizer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from heapviz.formats import procmaps, profile_pb2
from heapviz.kinds import classify
from heapviz.model import (
    UNKNOWN_STACK,
    Function,
    Label,
    Line,
    Location,
    Mapping,
    Profile,
    Sample,
    Value,
    ValueType,
)
from heapviz.symbolize.demangle import demangle

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "pprof_proto"
DESCRIPTION = "pprof protocol buffers (profile.proto, e.g. Go's heap profiles, pprof -proto)"

# The four heap values in heapviz's order; a proto with exactly these is reordered to it, so that
# Go's (alloc first) and gperftools' (inuse first) profiles sum and diff with each other.
HEAP_TYPES = ("inuse_objects", "inuse_space", "alloc_objects", "alloc_space")
# (count, bytes) sample-type pairs from which pprof's `bytes` label (the object size) follows.
_SIZE_PAIRS = (("inuse_objects", "inuse_space"), ("alloc_objects", "alloc_space"), ("objects", "space"),
               ("allocations", "size"))

# Wire types of profile.proto's top-level fields: 0 varint, 2 length-delimited. A field number
# missing here, or a wire type that differs, means the bytes are not a Profile.
_PROFILE_FIELDS: dict[int, tuple[int, ...]] = {
    1: (2,), 2: (2,), 3: (2,), 4: (2,), 5: (2,), 6: (2,), 7: (0,), 8: (0,), 9: (0,), 10: (0,), 11: (2,),
    12: (0,), 13: (0, 2), 14: (0,), 15: (0,),
}
_SNIFF_FULL = 1024  # a head at least this long may have been cut by load(): a field may run past it


def _varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    result = 0
    shift = 0
    while pos < len(buf) and shift < 70:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    return None


def sniff(head: bytes) -> bool:
    """True when the head reads as a sequence of Profile fields with their proper wire types.

    Text profiles fail at once: their letters decode as field keys with wire types profile.proto
    never uses (`heap profile:` stops at `a`, a fixed64 key for field 12).
    """
    pos = 0
    fields = 0
    cut = len(head) >= _SNIFF_FULL
    while pos < len(head):
        key = _varint(head, pos)
        if key is None:
            return cut and fields > 0
        number, wire = key[0] >> 3, key[0] & 7
        if wire not in _PROFILE_FIELDS.get(number, ()):
            return False
        pos = key[1]
        value = _varint(head, pos)
        if value is None:
            return cut and fields > 0
        pos = value[1]
        if wire == 2:
            pos += value[0]
            if pos > len(head) and not cut:
                return False
        fields += 1
    return fields > 0


def parse(reader: LineReader) -> Profile:
    data = reader.read_bytes()
    msg = profile_pb2.Profile()
    try:
        msg.ParseFromString(data)
    except DecodeError as e:
        raise reader.error(f"not a valid profile.proto (truncated or corrupt): {e}", 0) from None
    except Exception as e:  # the C implementation may raise other errors on hostile input
        raise reader.error(f"not a valid profile.proto: {type(e).__name__}: {e}", 0) from None
    return _Converter(msg, reader).profile()


class _Converter:
    def __init__(self, msg: profile_pb2.Profile, reader: LineReader) -> None:
        self.msg = msg
        self.reader = reader
        self.strings: list[str] = [str(s.decode("utf-8", "replace")) for s in msg.string_table]
        if not self.strings or self.strings[0] != "":
            raise self._error("string_table[0] must be the empty string (is the file truncated?)")

    def _error(self, what: str) -> Exception:
        return self.reader.error(f"invalid profile.proto: {what}", 0)

    def s(self, index: int, what: str) -> str:
        if not 0 <= index < len(self.strings):
            raise self._error(f"{what} refers to string {index}, but the string table has {len(self.strings)}")
        return self.strings[index]

    def profile(self) -> Profile:
        msg = self.msg
        types = [ValueType(self.s(vt.type, "sample_type"), self.s(vt.unit, "sample_type unit"))
                 for vt in msg.sample_type]
        if not types:
            raise self._error("no sample types")
        names = [vt.type for vt in types]
        if len(set(names)) != len(names):
            raise self._error(f"repeated sample types {names}")
        order = list(range(len(types)))
        # pprof's default is the last sample type in the file's order, so keep it by name.
        default = self.s(msg.default_sample_type, "default_sample_type")
        if default not in names:
            default = names[-1]
        if sorted(names) == sorted(HEAP_TYPES):
            order = [names.index(n) for n in HEAP_TYPES]
            types = [types[i] for i in order]
            names = [vt.type for vt in types]
        p = Profile(sample_types=types, kind="proto")
        period_type = (self.s(msg.period_type.type, "period_type"), self.s(msg.period_type.unit, "period_type unit")) \
            if msg.HasField("period_type") else None
        p.profile_kind = classify([(vt.type, vt.unit) for vt in types], period_type)
        p.header = "profile.proto: " + ", ".join(f"{vt.type}/{vt.unit}" for vt in types)
        p.default_sample_type = default
        if msg.HasField("period_type"):
            p.period_type = ValueType(self.s(msg.period_type.type, "period_type"),
                                      self.s(msg.period_type.unit, "period_type unit"))
        p.period = msg.period
        p.time_ns = max(0, msg.time_nanos)
        p.drop_frames = self.s(msg.drop_frames, "drop_frames")
        p.keep_frames = self.s(msg.keep_frames, "keep_frames")
        p.comments = [self.s(c, "comment") for c in msg.comment]
        if p.period > 1 and p.period_type is not None and p.period_type.unit == "bytes":
            # Go and pprof write heap values already unsampled (and truncated to integers).
            p.scaled = True
            p.sampling = (f"sampled every {p.period} bytes on average; the producer unsampled the values, "
                          "which are estimates")
        mappings = self._mappings(p)
        locations = self._locations(p, mappings)
        self._samples(p, locations, order)
        return p

    def _mappings(self, p: Profile) -> dict[int, Mapping]:
        out: dict[int, Mapping] = {}
        for m in self.msg.mapping:
            if m.id == 0 or m.id in out:
                raise self._error(f"mapping id {m.id} is zero or repeated")
            mapping = Mapping(id=m.id, start=m.memory_start, limit=m.memory_limit, offset=m.file_offset,
                              file=self.s(m.filename, "mapping filename"),
                              build_id=self.s(m.build_id, "mapping build_id"), has_functions=m.has_functions)
            out[m.id] = mapping
            p.mappings.append(mapping)
        return out

    def _locations(self, p: Profile, mappings: dict[int, Mapping]) -> dict[int, Location]:
        functions: dict[int, Function] = {}
        for f in self.msg.function:
            if f.id == 0 or f.id in functions:
                raise self._error(f"function id {f.id} is zero or repeated")
            system = self.s(f.system_name, "function system_name")
            name = self.s(f.name, "function name")
            if system.startswith("_Z") or (system and not name):
                # pprof writes C++ names shortened (no parameters or template arguments); the
                # mangled name gives back the full one that heapviz's views shorten themselves.
                full = demangle(system)
                if full != system or not name:
                    name = full
            fn = Function(id=f.id, name=name, system_name=system or name,
                          filename=self.s(f.filename, "function filename"), start_line=f.start_line)
            functions[f.id] = fn
            p.functions.append(fn)
        index = procmaps.MappingIndex(p.mappings)
        out: dict[int, Location] = {}
        for loc in self.msg.location:
            if loc.id == 0 or loc.id in out:
                raise self._error(f"location id {loc.id} is zero or repeated")
            if loc.mapping_id:
                mapping = mappings.get(loc.mapping_id)
                if mapping is None:
                    raise self._error(f"location {loc.id} refers to unknown mapping {loc.mapping_id}")
            else:
                mapping = index.find(loc.address) if loc.address else None
            lines = []
            for ln in loc.line:
                func = functions.get(ln.function_id)
                if func is None:
                    raise self._error(f"location {loc.id} refers to unknown function {ln.function_id}")
                if func.name:  # a nameless function says nothing: leave the address to the symbolizer
                    lines.append(Line(func, ln.line, ln.column))
            location = Location(id=loc.id, address=loc.address, mapping=mapping, lines=tuple(lines))
            out[loc.id] = location
            p.locations.append(location)
        return out

    def _samples(self, p: Profile, locations: dict[int, Location], order: list[int]) -> None:
        n = len(order)
        unknown: Location | None = None
        has_size_label = False
        for s in self.msg.sample:
            if len(s.value) != n:
                raise self._error(f"a sample has {len(s.value)} values for {n} sample types")
            values: list[Value] = [s.value[i] for i in order]
            try:
                stack = tuple(locations[i] for i in s.location_id)
            except KeyError as e:
                raise self._error(f"a sample refers to unknown location {e.args[0]}") from None
            if not stack:
                if unknown is None:
                    fn = Function(id=max((f.id for f in p.functions), default=0) + 1, name=UNKNOWN_STACK,
                                  system_name=UNKNOWN_STACK)
                    p.functions.append(fn)
                    unknown = Location(id=max(locations, default=0) + 1, address=0, lines=(Line(fn),))
                    p.locations.append(unknown)
                stack = (unknown,)
            labels: list[Label] = []
            for label in s.label:
                key = self.s(label.key, "label key")
                text = self.s(label.str, "label value")
                unit = self.s(label.num_unit, "label unit")
                if key == "bytes" and not label.str:
                    has_size_label = True  # the object size, which heapviz derives from the values
                else:
                    labels.append((key, text) if label.str else (key, label.num, unit))
            p.add(Sample(values, stack, tuple(labels)))
        if has_size_label:
            # pprof's `bytes` label is the object size, which heapviz derives from each pair.
            names = [vt.type for vt in p.sample_types]
            p.size_pairs = tuple((names.index(c), names.index(b)) for c, b in _SIZE_PAIRS
                                 if c in names and b in names)
