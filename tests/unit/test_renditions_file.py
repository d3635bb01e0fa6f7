"""The renditions file is checked before anything ships (`qip up`, `qip deploy`, `qip renditions`),
with messages that name the field and say what is allowed; the shipped file is valid and declares
nothing, so a stack keeps today's outputs."""

from __future__ import annotations

import pytest

from qip.cli.app import main
from qip.imaging import RenderOptions
from qip.tooling import renditions as checker

OPTIONS = RenderOptions()


def test_the_shipped_file_declares_nothing_and_is_valid():
    checked = checker.check()
    assert [r.name for r in checked.select("any/key.jpg")] == ["display", "thumb-512", "thumb-256", "thumb-128"]
    assert not checked.rules


def test_the_template_s_parameters_shape_the_check():
    text = "rules: [{prefix: p/, renditions: [thumb-300]}]"
    with pytest.raises(checker.RenditionsFileError, match="unknown rendition"):
        checker.check_text(text, checker.options_for({}))
    assert checker.check_text(text, checker.options_for({"ThumbnailSizes": "300,100"})).rules[0].prefix == "p/"


@pytest.mark.parametrize(("text", "message"), [
    ("renditions: {a: {fit: cover, width: 10}}", "renditions.a: 'height' is a required property: fit cover needs "
                                                 "both width and height"),
    ("renditions: {a: {width: 10, crop: attention}}", "renditions.a: crop applies only to fit: cover"),
    ("renditions: {a: {width: 10, metadata: {keep: [gps]}}}", "renditions.a.metadata.keep.0: 'gps' is not one of "
                                                              "['copyright', 'artist', 'rights'] (GPS is never kept"),
    ("renditions: {a: {width: 10, formats: gif}}", "renditions.a.formats: 'gif' is not one of"),
    ("renditions: {a: {width: 0}}", "renditions.a.width: 0 is less than the minimum of 1"),
    ("renditions: {a: {height: 9, colour: red}}", "('colour' was unexpected); allowed: crop, fit, formats, height"),
    ("renditions: {a: {}}", "renditions.a: give a width, a height or both"),
    ("renditions: {'Bad Name': {width: 5}}", "does not match"),
    ("rules: [{prefix: x/, renditions: [nope]}]", "rule 'x/': unknown rendition(s) nope; defined: display,"),
    ("rules: [{prefix: x/, renditions: [display]}, {prefix: x/, renditions: [display]}]", "same prefix"),
    ("renditions: [", "not valid YAML (line 1"),
    ("version: 2", "version: 1 was expected"),
])
def test_errors_name_the_field_and_say_what_is_allowed(text, message):
    with pytest.raises(checker.RenditionsFileError) as raised:
        checker.check_text(text, OPTIONS)
    assert message in str(raised.value)


def test_a_bad_file_is_a_usage_error_of_the_command_line(tmp_path, capsys):
    bad = tmp_path / "renditions.yaml"
    bad.write_text("renditions: {a: {fit: fill}}\n")
    assert main(["renditions", "--file", str(bad)]) == 2
    assert "fit fill needs both width and height" in " ".join(capsys.readouterr().err.split())
    good = tmp_path / "good.yaml"
    good.write_text("renditions: {avatar: {width: 64, height: 64, fit: cover, crop: attention}}\n"
                    "rules: [{prefix: users/, renditions: [avatar]}]\n")
    assert main(["renditions", "--file", str(good)]) == 0
    assert "keys under 'users/': avatar" in capsys.readouterr().out


def test_qip_up_checks_the_file_before_it_starts_anything(tmp_path, monkeypatch):
    from qip.tooling import local_stack

    bad = tmp_path / "renditions.yaml"
    bad.write_text("default: [nope]\n")
    monkeypatch.setattr(checker, "RENDITIONS_FILE", bad)
    monkeypatch.setattr(checker.check, "__defaults__", (None, bad, checker.TEMPLATE))

    class NoEngine:
        home = tmp_path

        def start(self, **kwargs):
            raise AssertionError("the engine was started before the renditions file was checked")

    with pytest.raises(checker.RenditionsFileError, match="unknown rendition"):
        local_stack.up(NoEngine(), "qip-test", progress=lambda _: None)
