"""Renditions, checked by decoding what they make: each fit's size, crops (an attention crop keeps
a planted salient object that a centre crop cuts off), every format (alpha, colour, orientation),
the metadata policy (rights fields kept when asked, GPS never), and today's outputs as the default."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from qip.imaging import RenderOptions, RenditionsError, RenditionSet, make_renditions, resize, thumbnails
from qip.imaging.renditions import Rendition, split, thumbnail_source
from qip.imaging.rights import Rights
from tests import imaging_corpus as corpus


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def one(data: bytes, **spec) -> Image.Image:
    [out] = make_renditions(data, [Rendition("r", **spec)]).outputs
    return decode(out.data)


@pytest.fixture(scope="module")
def landscape() -> bytes:
    return corpus.make_jpeg(800, 400)


@pytest.mark.parametrize(("spec", "size"), [
    ({"width": 200, "height": 200}, (200, 100)),                  # contain: inside the box, aspect kept
    ({"width": 200}, (200, 100)),                                 # width only
    ({"height": 50}, (100, 50)),                                  # height only
    ({"width": 2000, "height": 2000}, (800, 400)),                # never enlarged
    ({"width": 200, "height": 200, "fit": "cover"}, (200, 200)),  # cover: the box, cropped
    ({"width": 300, "height": 100, "fit": "cover"}, (300, 100)),
    ({"width": 1600, "height": 1600, "fit": "cover"}, (400, 400)),  # too small: the largest crop of that shape
    ({"width": 120, "height": 300, "fit": "fill"}, (120, 300)),   # fill: exactly the box, stretched
])
def test_each_fit_gives_its_size(landscape, spec, size):
    assert one(landscape, **spec).size == size


def test_fill_stretches_and_cover_crops():
    quadrants = corpus.make_jpeg(image=corpus.upright(400, 200), quality=95)
    filled = one(quadrants, width=100, height=100, fit="fill").convert("RGB")
    covered = one(quadrants, width=100, height=100, fit="cover").convert("RGB")
    # fill keeps all four quadrants, squeezed; cover (centre) keeps the middle half of the width
    colours = list(corpus.QUADRANTS.values())
    assert _close(filled.getpixel((10, 10)), colours[0]) and _close(filled.getpixel((90, 90)), colours[3])
    assert _close(covered.getpixel((10, 10)), colours[0]) and _close(covered.getpixel((90, 10)), colours[1])


def _close(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=False))


def planted(width: int = 900, height: int = 300, at: int = 720) -> bytes:
    """A flat grey scene with one busy, saturated object far right of centre."""
    image = Image.new("RGB", (width, height), (120, 120, 120))
    draw = ImageDraw.Draw(image)
    for i in range(0, 120, 8):
        draw.rectangle((at - 60 + i, 90, at - 56 + i, 210), fill=(230, 30, 40) if i % 16 else (20, 40, 230))
    return corpus.make_jpeg(image=image, quality=92)


def _has_object(image: Image.Image) -> bool:
    """Any strongly red or blue pixel (the planted object's)."""
    rgb = image.convert("RGB")
    return any(abs(r - b) > 120 for r, g, b in rgb.get_flattened_data())


def test_attention_crop_keeps_the_salient_object_a_centre_crop_cuts_off():
    data = planted()
    centre = one(data, width=200, height=200, fit="cover", crop="center")
    attention = one(data, width=200, height=200, fit="cover", crop="attention")
    assert attention.size == centre.size == (200, 200)
    assert not _has_object(centre)
    assert _has_object(attention)


def test_attention_follows_the_object_wherever_it_is():
    left = one(planted(at=150), width=150, height=150, fit="cover", crop="attention")
    assert _has_object(left)


def test_attention_on_a_featureless_image_is_the_centre():
    flat = corpus.make_jpeg(image=Image.new("RGB", (600, 200), (90, 90, 90)))
    assert one(flat, width=100, height=100, fit="cover", crop="attention").size == (100, 100)


@pytest.mark.parametrize(("fmt", "pil"), [("jpeg", "JPEG"), ("webp", "WEBP"), ("avif", "AVIF"), ("png", "PNG")])
def test_every_format_decodes_with_alpha_where_it_has_it(fmt, pil):
    [out] = make_renditions(corpus.make_png_alpha(200, 100), [Rendition("r", 100, 100, formats=(fmt,))]).outputs
    image = decode(out.data)
    assert image.format == pil and image.size == (100, 50) == (out.width, out.height)
    assert out.content_type == f"image/{fmt}"
    if fmt == "jpeg":
        assert image.mode == "RGB"  # flattened on white, not black
        assert min(image.getpixel((95, 25))) > 200  # the transparent right half
    else:
        assert "A" in image.mode and image.getchannel("A").getextrema()[0] < 50


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif", "png"])
def test_colour_survives_each_format(fmt):
    red = corpus.make_jpeg(image=Image.new("RGB", (300, 200), (200, 30, 30)), quality=95)
    image = one(red, width=60, formats=(fmt,)).convert("RGB")
    assert _close(image.getpixel((30, 20)), (200, 30, 30), tolerance=25)


def test_several_formats_of_one_rendition_and_quality():
    data = corpus.make_jpeg(600, 400)
    made = make_renditions(data, [Rendition("hero", 300, 300, formats=("avif", "webp", "jpeg"), quality=40),
                                  Rendition("big", 500, 500, formats=("jpeg",), quality=95)]).outputs
    assert [(o.name, o.format) for o in made] == [("hero", "avif"), ("hero", "webp"), ("hero", "jpeg"),
                                                  ("big", "jpeg")]
    assert {o.digest for o in made if o.name == "hero"} == {Rendition("hero", 300, 300, formats=("avif", "webp",
                                                                                                  "jpeg"),
                                                                      quality=40).digest}
    hero_jpeg, big_jpeg = made[2], made[3]
    assert decode(hero_jpeg.data).size == (300, 200) and decode(big_jpeg.data).size == (500, 333)
    assert hero_jpeg.byte_size < big_jpeg.byte_size  # q40 at 300 px against q95 at 500 px


def test_orientation_is_applied_for_every_fit():
    data = corpus.make_oriented_jpeg(6)  # stored 48x64, displayed 64x48
    assert one(data, width=32).size == (32, 24)
    cover = one(data, width=20, height=20, fit="cover")
    assert cover.size == (20, 20) and not cover.getexif().get(0x0112)


# ------------------------------------------------------------------ metadata policy
def rights_jpeg() -> bytes:
    exif = corpus.camera_exif(gps=True)
    exif[0x013B] = "Ada Lovelace"
    exif[0x8298] = "(c) 2026 Ada Lovelace"
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/" '
           'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
           'xmpRights:Marked="True" exif:GPSLatitude="52,31.2N" exif:GPSLongitude="13,24.6W">'
           '<xmpRights:UsageTerms><rdf:Alt><rdf:li xml:lang="x-default">Editorial use only &amp; credit'
           '</rdf:li></rdf:Alt></xmpRights:UsageTerms><photoshop:Credit>Analytical Engines Ltd</photoshop:Credit>'
           '</rdf:Description></rdf:RDF></x:xmpmeta>')
    image = corpus.photo(400, 300)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, xmp=xmp.encode())
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif", "png"])
def test_rights_fields_are_kept_when_asked_and_gps_never(fmt):
    [out] = make_renditions(rights_jpeg(), [Rendition("r", 100, formats=(fmt,),
                                                      keep=("copyright", "artist", "rights"))]).outputs
    assert b"GPS" not in out.data and b"52,31" not in out.data and b"QuantumCam" not in out.data
    image = decode(out.data)
    exif = image.getexif()
    assert exif.get(0x013B) == "Ada Lovelace" and exif.get(0x8298) == "(c) 2026 Ada Lovelace"
    assert not exif.get_ifd(0x8825) and 0x8825 not in exif and 0x010F not in exif
    xmp = image.info.get("xmp") or b""
    xmp = xmp.decode() if isinstance(xmp, bytes) else xmp
    assert "Editorial use only &amp; credit" in xmp and "Analytical Engines Ltd" in xmp
    assert "<xmpRights:Marked>True</xmpRights:Marked>" in xmp and "GPS" not in xmp


def test_only_the_named_fields_are_kept():
    [out] = make_renditions(rights_jpeg(), [Rendition("r", 100, keep=("copyright",))]).outputs
    image = decode(out.data)
    assert image.getexif().get(0x8298) == "(c) 2026 Ada Lovelace" and 0x013B not in image.getexif()
    assert b"Analytical" not in out.data and b"Ada Lovelace\x00" not in out.data.replace(b"(c) 2026 Ada", b"")


def test_by_default_every_metadata_block_is_stripped():
    [out] = make_renditions(rights_jpeg(), [Rendition("r", 100, formats=("jpeg",))]).outputs
    image = decode(out.data)
    assert not image.getexif() and not image.info.get("xmp")
    assert b"Ada" not in out.data and b"GPS" not in out.data and b"Exif" not in out.data


def test_rights_read_from_iptc_iim():
    from PIL import IptcImagePlugin  # noqa: F401 - the plugin that reads APP13

    iim = b"".join(b"\x1c\x02" + bytes([tag]) + len(v).to_bytes(2, "big") + v
                   for tag, v in ((80, b"Grace Hopper"), (116, b"(c) Navy")))
    resource = b"8BIM\x04\x04\x00\x00" + len(iim).to_bytes(4, "big") + iim
    data = corpus.with_app_segments(corpus.make_jpeg(120, 80), [b"Photoshop 3.0\x00" + resource], marker=0xED)
    rendered = make_renditions(data, [Rendition("r", 60, keep=("artist", "copyright"))])
    assert rendered.rights.artist == "Grace Hopper" and rendered.rights.copyright == "(c) Navy"
    assert decode(rendered.outputs[0].data).getexif().get(0x013B) == "Grace Hopper"


def test_rights_passed_on_to_renditions_made_from_an_output():
    rights = Rights(copyright="(c) Someone")
    stripped = make_renditions(rights_jpeg(), [Rendition("big", 300, formats=("png",))]).outputs[0].data
    [out] = make_renditions(stripped, [Rendition("small", 50, keep=("copyright",))], rights=rights).outputs
    assert decode(out.data).getexif().get(0x8298) == "(c) Someone"


# ------------------------------------------------------------------ the set and today's outputs
def test_the_default_rule_is_today_s_outputs():
    options = RenderOptions()
    default = RenditionSet.from_mapping(None, options)
    names = [r.name for r in default.select("any/key.jpg")]
    assert names == ["display", "thumb-512", "thumb-256", "thumb-128"]
    data = corpus.make_jpeg(4000, 3000)
    large, small = split(default.select("k"))
    [display] = make_renditions(data, large, options).outputs
    today = resize(data, options)
    assert (display.name, display.format, display.width, display.height) == ("display", "jpeg", today.width,
                                                                               today.height)
    assert thumbnail_source(default.select("k")).name == "display"
    made = make_renditions(display.data, small, options).outputs
    assert [(t.name, t.format, t.width, t.height) for t in made] == [
        (t.name, t.format, t.width, t.height) for t in thumbnails(today.data, options)]


def test_parameters_shape_the_built_in_renditions():
    custom = RenditionSet.from_mapping({}, RenderOptions(max_side=1600, thumbnail_sizes=(300, 100),
                                                         thumbnail_format="jpeg"))
    assert [(r.name, r.width, r.formats) for r in custom.select("k")] == [
        ("display", 1600, ("jpeg",)), ("thumb-300", 300, ("jpeg",)), ("thumb-100", 100, ("jpeg",))]
    assert custom.version != RenditionSet.from_mapping({}).version


def test_rules_pick_by_the_longest_prefix():
    rendition_set = RenditionSet.from_mapping({
        "renditions": {"avatar": {"width": 64, "height": 64, "fit": "cover"}, "hero": {"width": 1200}},
        "rules": [{"prefix": "users/", "renditions": ["avatar"]},
                  {"prefix": "users/staff/", "renditions": ["hero", "avatar"]}],
    })
    assert [r.name for r in rendition_set.select("users/ada.jpg")] == ["avatar"]
    assert [r.name for r in rendition_set.select("users/staff/ada.jpg")] == ["hero", "avatar"]
    assert [r.name for r in rendition_set.select("other.jpg")][0] == "display"
    assert set(rendition_set.digests("users/ada.jpg")) == {"avatar"}


def test_the_version_follows_the_content_not_the_spelling():
    a = RenditionSet.from_mapping({"renditions": {"x": {"width": 10, "formats": "jpg"}}})
    b = RenditionSet.from_mapping({"renditions": {"x": {"formats": ["jpeg"], "width": 10, "fit": "contain"}}})
    c = RenditionSet.from_mapping({"renditions": {"x": {"width": 11}}})
    assert a.version == b.version != c.version
    assert a.renditions["display"].digest == c.renditions["display"].digest  # unchanged renditions keep theirs


@pytest.mark.parametrize(("data", "message"), [
    ({"renditions": {"x": {}}}, "give a width, a height or both"),
    ({"renditions": {"x": {"width": 5, "fit": "cover"}}}, "needs both width and height"),
    ({"rules": [{"prefix": "a/", "renditions": ["nope"]}]}, "unknown rendition(s) nope"),
    ({"renditions": {"x": {"width": 5, "metadata": {"keep": ["gps"]}}}}, "GPS is never kept"),
    ({"default": []}, None),
])
def test_the_model_refuses_what_cannot_work(data, message):
    if message is None:  # an empty default is "not given": the built-in one
        assert RenditionSet.from_mapping(data).default[0] == "display"
        return
    with pytest.raises(RenditionsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RenditionSet.from_mapping(data)
