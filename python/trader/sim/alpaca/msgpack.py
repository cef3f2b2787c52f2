"""The msgpack subset Alpaca's streams use (nil, bool, int, float, str, bin, array, map and the Timestamp
extension): a small independent codec, so alpaca-py's `msgpack` is the oracle in the tests."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NS = 1_000_000_000


@dataclass(frozen=True)
class MsgpackTimestamp:
    """A msgpack Timestamp extension (type -1), in nanoseconds since the epoch."""

    ns: int


def packb(obj: Any) -> bytes:
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


# ---- packing ----------------------------------------------------------------------------------------

_UINTS = ((0xCC, ">B", 8), (0xCD, ">H", 16), (0xCE, ">I", 32), (0xCF, ">Q", 64))
_SINTS = ((0xD0, ">b", 7), (0xD1, ">h", 15), (0xD2, ">i", 31), (0xD3, ">q", 63))


def _pack_len(out: bytearray, n: int, fix: int, fix_max: int, codes: tuple[int, int, int]) -> None:
    if n <= fix_max:
        out.append(fix | n)
    elif n < 1 << 8 and codes[0]:
        out += bytes((codes[0], n))
    elif n < 1 << 16:
        out.append(codes[1])
        out += struct.pack(">H", n)
    else:
        out.append(codes[2])
        out += struct.pack(">I", n)


def _pack_int(o: int, out: bytearray) -> None:
    if 0 <= o < 128:
        out.append(o)
        return
    if -32 <= o < 0:
        out.append(o & 0xFF)
        return
    if o >= 0:
        for code, fmt, bits in _UINTS:
            if o < 1 << bits:
                out.append(code)
                out += struct.pack(fmt, o)
                return
        raise ValueError("integer too large for msgpack")
    for code, fmt, bits in _SINTS:
        if o >= -(1 << bits):
            out.append(code)
            out += struct.pack(fmt, o)
            return
    raise ValueError("integer too small for msgpack")


def _pack_str(o: str, out: bytearray) -> None:
    raw = o.encode()
    _pack_len(out, len(raw), 0xA0, 31, (0xD9, 0xDA, 0xDB))
    out += raw


def _pack_bin(o: bytes | bytearray, out: bytearray) -> None:
    _pack_len(out, len(o), 0, -1, (0xC4, 0xC5, 0xC6))
    out += o


def _pack_array(o: list[Any] | tuple[Any, ...], out: bytearray) -> None:
    _pack_len(out, len(o), 0x90, 15, (0, 0xDC, 0xDD))
    for item in o:
        _pack(item, out)


def _pack_map(o: dict[Any, Any], out: bytearray) -> None:
    _pack_len(out, len(o), 0x80, 15, (0, 0xDE, 0xDF))
    for k, v in o.items():
        _pack(k, out)
        _pack(v, out)


def _pack_timestamp(o: MsgpackTimestamp, out: bytearray) -> None:
    sec, nsec = divmod(o.ns, NS)
    if sec >> 34 == 0:
        if nsec == 0 and sec < 1 << 32:
            out += b"\xd6\xff" + struct.pack(">I", sec)
        else:
            out += b"\xd7\xff" + struct.pack(">Q", nsec << 34 | sec)
    else:
        out += b"\xc7\x0c\xff" + struct.pack(">Iq", nsec, sec)


def _pack_float(o: float, out: bytearray) -> None:
    out.append(0xCB)
    out += struct.pack(">d", o)


_PACKERS: tuple[tuple[type | tuple[type, ...], Callable[[Any, bytearray], None]], ...] = (
    (int, _pack_int),
    (float, _pack_float),
    (str, _pack_str),
    ((bytes, bytearray), _pack_bin),
    ((list, tuple), _pack_array),
    (dict, _pack_map),
    (MsgpackTimestamp, _pack_timestamp),
)


def _pack(o: Any, out: bytearray) -> None:
    if o is None:
        out.append(0xC0)
        return
    if o is True or o is False:
        out.append(0xC3 if o else 0xC2)
        return
    for kind, packer in _PACKERS:
        if isinstance(o, kind):
            packer(o, out)
            return
    raise TypeError(f"cannot pack {type(o).__name__}")


# ---- unpacking --------------------------------------------------------------------------------------


def unpackb(data: bytes) -> Any:
    """Decode one msgpack object; `ValueError` for malformed or trailing bytes."""
    try:
        obj, pos = _unpack(data, 0)
    except (IndexError, struct.error, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"malformed msgpack ({type(e).__name__})") from None
    if pos != len(data):
        raise ValueError("trailing bytes after a msgpack object")
    return obj


_FIXED = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
_FIXED.update({0xCA: ">f", 0xCB: ">d"})
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4, 0xDC: 2, 0xDD: 4, 0xDE: 2, 0xDF: 4}
_FIXEXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}


def _size(b: bytes, i: int, width: int) -> tuple[int, int]:
    fmt = {1: ">B", 2: ">H", 4: ">I"}[width]
    return struct.unpack_from(fmt, b, i)[0], i + width


def _unpack_fix(b: bytes, i: int, t: int) -> tuple[Any, int]:
    """The one-byte-header types: fixint, negative fixint, fixmap, fixarray, fixstr."""
    if t <= 0x7F:
        return t, i
    if t >= 0xE0:
        return t - 0x100, i
    if t <= 0x8F:
        return _unpack_map(b, i, t & 0x0F)
    if t <= 0x9F:
        return _unpack_array(b, i, t & 0x0F)
    n = t & 0x1F
    return _text(b, i, n), i + n


def _unpack_sized(b: bytes, i: int, t: int) -> tuple[Any, int]:
    """bin, str, array and map with a length field."""
    n, i = _size(b, i, _SIZED[t])
    if t in (0xC4, 0xC5, 0xC6):
        if i + n > len(b):
            raise IndexError("truncated bin")
        return bytes(b[i : i + n]), i + n
    if t in (0xD9, 0xDA, 0xDB):
        return _text(b, i, n), i + n
    if t in (0xDC, 0xDD):
        return _unpack_array(b, i, n)
    return _unpack_map(b, i, n)


def _unpack_ext(b: bytes, i: int, t: int) -> tuple[Any, int]:
    """An extension: only the Timestamp (type -1) in its 32-, 64- and 96-bit forms."""
    if t in _FIXEXT:
        n = _FIXEXT[t]
    else:
        n, i = _size(b, i, _EXT[t])
    kind = struct.unpack_from(">b", b, i)[0]
    payload = b[i + 1 : i + 1 + n]
    if len(payload) != n:
        raise IndexError("truncated ext")
    if kind != -1:
        raise IndexError(f"unsupported ext type {kind}")
    end = i + 1 + n
    if n == 4:
        return MsgpackTimestamp(struct.unpack(">I", payload)[0] * NS), end
    if n == 8:
        v = struct.unpack(">Q", payload)[0]
        return MsgpackTimestamp((v & (1 << 34) - 1) * NS + (v >> 34)), end
    nsec, sec = struct.unpack(">Iq", payload)
    return MsgpackTimestamp(sec * NS + nsec), end


def _unpack(b: bytes, i: int) -> tuple[Any, int]:
    t = b[i]
    i += 1
    if t <= 0xBF or t >= 0xE0:
        return _unpack_fix(b, i, t)
    if t == 0xC0:
        return None, i
    if t in (0xC2, 0xC3):
        return t == 0xC3, i
    if t in _FIXED:
        fmt = _FIXED[t]
        return struct.unpack_from(fmt, b, i)[0], i + struct.calcsize(fmt)
    if t in _SIZED:
        return _unpack_sized(b, i, t)
    if t in _FIXEXT or t in _EXT:
        return _unpack_ext(b, i, t)
    raise IndexError(f"unknown msgpack type byte 0x{t:02x}")


def _text(b: bytes, i: int, n: int) -> str:
    if i + n > len(b):
        raise IndexError("truncated str")
    return bytes(b[i : i + n]).decode()


def _unpack_array(b: bytes, i: int, n: int) -> tuple[list[Any], int]:
    out = []
    for _ in range(n):
        v, i = _unpack(b, i)
        out.append(v)
    return out, i


def _unpack_map(b: bytes, i: int, n: int) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    for _ in range(n):
        k, i = _unpack(b, i)
        v, i = _unpack(b, i)
        if isinstance(k, list | dict):
            raise IndexError("unhashable map key")
        out[k] = v
    return out, i
