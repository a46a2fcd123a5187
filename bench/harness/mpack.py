"""The little msgpack the deltas section needs, in plain Python (the bench runs on whatever python3
is first on PATH, which may not see Debian's python3-msgpack): pack() for the delta bodies (maps,
arrays, strings, integers, booleans, None) and a reader that decodes a snapshot's header fields
and the first legs of its `legs` array without decoding the rest.
"""
import struct


def pack(obj, out=None):
    """msgpack bytes of obj (dict with str keys, list/tuple, str, int, bool, None)."""
    top = out is None
    if top:
        out = bytearray()
    if obj is None:
        out.append(0xC0)
    elif obj is True or obj is False:
        out.append(0xC3 if obj else 0xC2)
    elif isinstance(obj, int):
        if 0 <= obj < 0x80:
            out.append(obj)
        elif -32 <= obj < 0:
            out.append(obj & 0xFF)
        elif 0 <= obj <= 0xFFFFFFFF:
            out += b"\xce" + struct.pack(">I", obj)
        elif obj > 0:
            out += b"\xcf" + struct.pack(">Q", obj)
        else:
            out += b"\xd3" + struct.pack(">q", obj)
    elif isinstance(obj, str):
        b = obj.encode()
        n = len(b)
        if n < 32:
            out.append(0xA0 | n)
        elif n < 256:
            out += bytes((0xD9, n))
        elif n < 65536:
            out += b"\xda" + struct.pack(">H", n)
        else:
            out += b"\xdb" + struct.pack(">I", n)
        out += b
    elif isinstance(obj, (list, tuple)):
        n = len(obj)
        out += bytes((0x90 | n,)) if n < 16 else (b"\xdc" + struct.pack(">H", n) if n < 65536 else b"\xdd" + struct.pack(">I", n))
        for x in obj:
            pack(x, out)
    elif isinstance(obj, dict):
        n = len(obj)
        out += bytes((0x80 | n,)) if n < 16 else (b"\xde" + struct.pack(">H", n) if n < 65536 else b"\xdf" + struct.pack(">I", n))
        for k, v in obj.items():
            pack(k, out)
            pack(v, out)
    else:
        raise TypeError(f"mpack: cannot pack {type(obj).__name__}")
    return bytes(out) if top else out


class Reader:
    """Decodes msgpack from a bytes-like buffer (bytes, mmap) at a position."""

    def __init__(self, buf, pos=0):
        self.buf, self.pos = buf, pos

    def _take(self, n):
        b = self.buf[self.pos:self.pos + n]
        if len(b) != n:
            raise ValueError("mpack: truncated")
        self.pos += n
        return b

    def _len(self, fmt):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def header(self):
        """(kind, value): ('map'|'array', count) for containers, ('value', decoded) otherwise."""
        t = self._take(1)[0]
        if t <= 0x7F:
            return "value", t
        if t >= 0xE0:
            return "value", t - 0x100
        if 0x80 <= t <= 0x8F:
            return "map", t & 0x0F
        if 0x90 <= t <= 0x9F:
            return "array", t & 0x0F
        if 0xA0 <= t <= 0xBF:
            return "value", self._take(t & 0x1F).decode()
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if t in simple:
            return "value", simple[t]
        ints = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
                0xCA: ">f", 0xCB: ">d"}
        if t in ints:
            return "value", self._len(ints[t])
        strs = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}
        if t in strs:
            return "value", self._take(self._len(strs[t])).decode()
        bins = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}
        if t in bins:
            return "value", bytes(self._take(self._len(bins[t])))
        if t in (0xDC, 0xDD):
            return "array", self._len(">H" if t == 0xDC else ">I")
        if t in (0xDE, 0xDF):
            return "map", self._len(">H" if t == 0xDE else ">I")
        raise ValueError(f"mpack: unsupported type byte 0x{t:02x} at {self.pos - 1}")

    def value(self):
        kind, v = self.header()
        if kind == "array":
            return [self.value() for _ in range(v)]
        if kind == "map":
            out = {}
            for _ in range(v):
                k = self.value()
                out[k] = self.value()
            return out
        return v


def snapshot_head(buf, max_legs):
    """({top-level fields but legs}, [the first max_legs legs], total legs, (start, end) byte span of
    the `sequence` value) of a snapshot document."""
    r = Reader(buf)
    kind, n = r.header()
    if kind != "map":
        raise ValueError("mpack: a snapshot is a map")
    fields, legs, total, seq_span = {}, [], 0, None
    for _ in range(n):
        key = r.value()
        if key == "legs":
            kind, total = r.header()
            if kind != "array":
                raise ValueError("mpack: legs is not an array")
            for _ in range(min(total, max_legs)):
                legs.append(r.value())
            if total > max_legs:
                return fields, legs, total, seq_span  # the rest is not needed (legs come last in flightsearch-gen's files)
        else:
            start = r.pos
            fields[key] = r.value()
            if key == "sequence":
                seq_span = (start, r.pos)
    return fields, legs, total, seq_span


def with_sequence(buf, seq_span, sequence):
    """The document bytes with its `sequence` value replaced (a uint64, so any sequence fits)."""
    a, b = seq_span
    return bytes(buf[:a]) + b"\xcf" + struct.pack(">Q", sequence) + bytes(buf[b:])
