"""The metadata policy of outputs: strip everything, or keep the rights fields a rendition names.

Outputs never carry the source's metadata blocks: what a rendition keeps is read out of the
source (EXIF Artist/Copyright, IPTC IIM By-line/Copyright Notice/Credit, XMP dc:creator,
dc:rights and the xmpRights fields) and written into fresh, minimal EXIF and XMP blocks, so GPS,
camera serials, faces or any other field can never ride along.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from PIL import Image, IptcImagePlugin

MAX_TEXT = 512
_ARTIST, _COPYRIGHT = 0x013B, 0x8298
_IPTC_BYLINE, _IPTC_CREDIT, _IPTC_COPYRIGHT = (2, 80), (2, 110), (2, 116)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FIELDS_BY_KEEP = {"copyright": ("copyright",), "artist": ("artist",),
                  "rights": ("usage_terms", "web_statement", "marked", "credit")}


@dataclass(frozen=True)
class Rights:
    """The rights fields of an image (None where absent)."""

    copyright: str | None = None
    artist: str | None = None
    usage_terms: str | None = None
    web_statement: str | None = None
    marked: bool | None = None
    credit: str | None = None

    def kept(self, keep: Iterable[str]) -> Rights:
        """Only the fields a rendition's `metadata.keep` names."""
        allowed = {name for item in keep for name in FIELDS_BY_KEEP.get(item, ())}
        return replace(Rights(), **{name: value for name, value in asdict(self).items() if name in allowed})

    @property
    def empty(self) -> bool:
        return all(value is None for value in asdict(self).values())

    def to_dict(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> Rights:
        value = value or {}
        return cls(**{name: value.get(name) for name in asdict(cls())})

    def exif(self) -> bytes | None:
        """A fresh EXIF block with Artist and Copyright only (None if neither is kept)."""
        if not (self.artist or self.copyright):
            return None
        exif = Image.Exif()
        if self.artist:
            exif[_ARTIST] = self.artist
        if self.copyright:
            exif[_COPYRIGHT] = self.copyright
        return exif.tobytes()

    def xmp(self) -> bytes | None:
        """A fresh XMP packet with the kept fields (IPTC Core's rights properties), or None."""
        parts = []
        if self.artist:
            parts.append(f"<dc:creator><rdf:Seq><rdf:li>{_escape(self.artist)}</rdf:li></rdf:Seq></dc:creator>")
        if self.copyright:
            parts.append("<dc:rights><rdf:Alt><rdf:li xml:lang=\"x-default\">"
                         f"{_escape(self.copyright)}</rdf:li></rdf:Alt></dc:rights>")
        if self.usage_terms:
            parts.append("<xmpRights:UsageTerms><rdf:Alt><rdf:li xml:lang=\"x-default\">"
                         f"{_escape(self.usage_terms)}</rdf:li></rdf:Alt></xmpRights:UsageTerms>")
        if self.web_statement:
            parts.append(f"<xmpRights:WebStatement>{_escape(self.web_statement)}</xmpRights:WebStatement>")
        if self.marked is not None:
            parts.append(f"<xmpRights:Marked>{'True' if self.marked else 'False'}</xmpRights:Marked>")
        if self.credit:
            parts.append(f"<photoshop:Credit>{_escape(self.credit)}</photoshop:Credit>")
        if not parts:
            return None
        return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
                '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
                ' xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"'
                ' xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
                + "".join(parts) + '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def read_rights(image: Image.Image, exif: Image.Exif | None) -> Rights:
    """The rights fields of a decoded source (EXIF first, then XMP, then IPTC IIM)."""
    xmp = _xmp_text(image)
    iptc = _iptc(image)
    ifd0: Any = exif or {}
    return Rights(
        copyright=_text(ifd0.get(_COPYRIGHT)) or _xmp_alt(xmp, "dc:rights") or _text(iptc.get(_IPTC_COPYRIGHT)),
        artist=_text(ifd0.get(_ARTIST)) or _xmp_alt(xmp, "dc:creator") or _text(iptc.get(_IPTC_BYLINE)),
        usage_terms=_xmp_alt(xmp, "xmpRights:UsageTerms"),
        web_statement=_xmp_simple(xmp, "xmpRights:WebStatement"),
        marked=_marked(_xmp_simple(xmp, "xmpRights:Marked")),
        credit=_xmp_simple(xmp, "photoshop:Credit") or _text(iptc.get(_IPTC_CREDIT)),
    )


def _xmp_text(image: Image.Image) -> str:
    raw = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return raw if isinstance(raw, str) else ""


def _iptc(image: Image.Image) -> dict[tuple[int, int], Any]:
    try:
        found = IptcImagePlugin.getiptcinfo(image)  # type: ignore[arg-type]  # takes any image with IPTC info
    except (SyntaxError, ValueError, TypeError, OSError, IndexError, KeyError):
        return {}
    return found if isinstance(found, dict) else {}


def _xmp_alt(xmp: str, tag: str) -> str | None:
    """The first rdf:li of an element (Alt/Seq/Bag), or the element's own text."""
    match = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}>", xmp, re.DOTALL)
    if not match:
        return _xmp_attribute(xmp, tag)
    item = re.search(r"<rdf:li\b[^>]*>(.*?)</rdf:li>", match.group(1), re.DOTALL)
    return _text(html.unescape(item.group(1) if item else match.group(1)))


def _xmp_simple(xmp: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}\b[^>]*>([^<]*)</{tag}>", xmp)
    return _text(html.unescape(match.group(1))) if match else _xmp_attribute(xmp, tag)


def _xmp_attribute(xmp: str, tag: str) -> str | None:
    match = re.search(rf"\b{tag}=\"([^\"]*)\"", xmp)
    return _text(html.unescape(match.group(1))) if match else None


def _marked(value: str | None) -> bool | None:
    return None if value is None else value.strip().lower() == "true"


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = _CONTROL.sub(" ", value).strip()
    return value[:MAX_TEXT] or None


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
