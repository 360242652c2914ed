"""NIST SPHERE headers (WSJ .wv1/.wv2, AN4 .sph, TIMIT...): sample rate and count without reading samples.

Written here because no maintained Python package parses SPHERE headers: libsndfile reads plain PCM SPHERE
but rejects the shorten-compressed files LDC ships, and their duration is needed before any decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from werbench.manifests.errors import ManifestError

MAGIC = b"NIST_1A"
SPHERE_SUFFIXES = (".sph", ".wv1", ".wv2", ".nist")
_MAX_HEADER = 1 << 20


@dataclass(frozen=True, slots=True)
class SphereHeader:
    """The fields of one SPHERE header that decoding needs, plus every field verbatim in ``fields``."""

    header_size: int
    sample_rate: int
    sample_count: int
    channel_count: int
    sample_n_bytes: int
    sample_coding: str
    sample_byte_format: str
    fields: dict[str, int | float | str] = field(default_factory=dict)

    @property
    def compression(self) -> str:
        """The part after the comma of e.g. ``pcm,embedded-shorten-v1.1`` (LDC WSJ); ``""`` if none."""
        return self.sample_coding.partition(",")[2].strip().lower()

    @property
    def is_shorten(self) -> bool:
        return "shorten" in self.compression

    @property
    def encoding(self) -> str:
        """The sample encoding before any compression suffix: ``pcm``, ``ulaw`` or ``alaw``."""
        return self.sample_coding.split(",", 1)[0].strip().lower() or "pcm"

    @property
    def data_bytes(self) -> int:
        """Bytes of uncompressed sample data the header promises."""
        return self.sample_count * self.channel_count * self.sample_n_bytes

    @property
    def duration(self) -> float:
        return self.sample_count / self.sample_rate


def is_sphere(path: str | Path) -> bool:
    """True when the file starts with the SPHERE magic, whatever its suffix."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _parse_value(path: Path, line: int, name: str, kind: str, raw: str) -> int | float | str:
    try:
        if kind == "-i":
            return int(raw)
        if kind == "-r":
            return float(raw)
    except ValueError:
        raise ManifestError(path, f"SPHERE header: bad {kind} value {raw!r}", line=line, field=name) from None
    if kind.startswith("-s"):
        try:
            length = int(kind[2:])
        except ValueError:
            raise ManifestError(
                path, f"SPHERE header: bad string type {kind!r}", line=line, field=name
            ) from None
        return raw[:length]
    raise ManifestError(path, f"SPHERE header: unknown field type {kind!r}", line=line, field=name)


def _parse_fields(path: Path, text: str) -> dict[str, int | float | str]:
    fields: dict[str, int | float | str] = {}
    for number, line in enumerate(text.splitlines()[2:], start=3):
        if line.strip() == "end_head":
            return fields
        if not line.strip() or line.startswith(";"):
            continue
        parts = line.split(" ", 2)
        if len(parts) < 3:
            raise ManifestError(path, f"SPHERE header: malformed line {line!r}", line=number)
        name, kind, raw = parts
        fields[name] = _parse_value(path, number, name, kind, raw)
    raise ManifestError(path, "SPHERE header has no end_head line")


def _int_field(path: Path, fields: dict, name: str, default: int | None = None) -> int:
    value = fields.get(name, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # some writers (libsndfile among them) type counts as strings: ``-s1 1``
    if value is None:
        raise ManifestError(path, "SPHERE header lacks this field", field=name)
    if not isinstance(value, int) or value < 0:
        raise ManifestError(
            path, f"SPHERE header: expected a non-negative integer, got {value!r}", field=name
        )
    return value


def read_sphere_header(path: str | Path) -> SphereHeader:
    """Parse the header of a SPHERE file; raises ManifestError naming the field that is missing or bad."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
            if not head.startswith(MAGIC):
                raise ManifestError(path, "not a NIST SPHERE file (no NIST_1A magic)", field="audio_filepath")
            lines = head.split(b"\n", 2)
            try:
                header_size = int(lines[1])
            except (IndexError, ValueError):
                raise ManifestError(path, "SPHERE header: bad header size on line 2", line=2) from None
            if not 16 <= header_size <= _MAX_HEADER:
                raise ManifestError(path, f"SPHERE header: implausible header size {header_size}", line=2)
            if header_size > len(head):
                head += handle.read(header_size - len(head))
            size = path.stat().st_size
    except OSError as exc:
        raise ManifestError(
            path, f"cannot read audio: {exc.strerror or exc}", field="audio_filepath"
        ) from None
    if len(head) < header_size:
        raise ManifestError(path, f"SPHERE file truncated inside its {header_size}-byte header")
    fields = _parse_fields(path, head[:header_size].decode("latin-1"))
    header = SphereHeader(
        header_size=header_size,
        sample_rate=_int_field(path, fields, "sample_rate"),
        sample_count=_int_field(path, fields, "sample_count"),
        channel_count=_int_field(path, fields, "channel_count", 1),
        sample_n_bytes=_int_field(path, fields, "sample_n_bytes", 2),
        sample_coding=str(fields.get("sample_coding", "pcm")),
        sample_byte_format=str(fields.get("sample_byte_format", "01")),
        fields=fields,
    )
    if header.sample_rate == 0 or header.channel_count == 0:
        raise ManifestError(path, "SPHERE header: sample_rate and channel_count must be positive")
    if not header.compression and size < header_size + header.data_bytes:
        raise ManifestError(
            path,
            f"truncated: header promises {header.data_bytes} data bytes, file holds {size - header_size}",
            field="audio_filepath",
        )
    return header
