"""Fault injection switches on only on the local engine, and does what each mode says."""

from __future__ import annotations

import pytest

from qip.core import faults


@pytest.fixture
def faults_file(tmp_path, monkeypatch):
    path = tmp_path / "faults.json"
    monkeypatch.setenv(faults.FAULTS_FILE_ENV, str(path))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://127.0.0.1:4566")
    return path


@pytest.mark.parametrize("endpoint", ["", "https://s3.eu-west-1.amazonaws.com", "https://10.0.0.5:4566"])
def test_it_is_off_unless_the_functions_talk_to_an_engine_on_this_machine(faults_file, monkeypatch, endpoint):
    faults.write(faults_file, {"resize": faults.Rule("fail")})
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert faults.enabled() is None
    faults.inject("resize", "k.jpg", "run", 0)  # nothing happens


def test_it_is_off_without_the_engine_s_file_setting(faults_file, monkeypatch):
    faults.write(faults_file, {"resize": faults.Rule("fail")})
    monkeypatch.delenv(faults.FAULTS_FILE_ENV)
    faults.inject("resize", "k.jpg", "run", 0)


def test_fail_n_times_then_work(faults_file):
    faults.write(faults_file, {"resize": faults.Rule("fail", times=2)})
    for retry in (0, 1):
        with pytest.raises(faults.InjectedFault, match=f"try {retry + 1}"):
            faults.inject("resize", "k.jpg", "run", retry)
    faults.inject("resize", "k.jpg", "run", 2)
    faults.inject("thumbnails", "k.jpg", "run", 0)  # other stages are untouched


def test_key_filter_and_rate(faults_file):
    faults.write(faults_file, {"validate": faults.Rule("fail", key_contains="flaky")})
    faults.inject("validate", "steady.jpg", "run", 0)
    with pytest.raises(faults.InjectedFault):
        faults.inject("validate", "a/flaky.jpg", "run", 0)
    faults.write(faults_file, {"validate": faults.Rule("fail", rate=0.3)})
    failed = 0
    for i in range(1000):
        try:
            faults.inject("validate", f"{i}.jpg", "run", 0)
        except faults.InjectedFault:
            failed += 1
    assert 250 < failed < 350


def test_slow_sleeps_and_crash_exits(faults_file, monkeypatch):
    slept, exits = [], []
    monkeypatch.setattr(faults.time, "sleep", slept.append)
    monkeypatch.setattr(faults.os, "_exit", exits.append)
    faults.write(faults_file, {"thumbnails": faults.Rule("slow", seconds=90), "archive": faults.Rule("crash", times=1)})
    faults.inject("thumbnails", "k.jpg", "run", 0)
    faults.inject("archive", "k.jpg", "run", 0)
    faults.inject("archive", "k.jpg", "run", 1)
    assert slept == [90] and exits == [137]


def test_injected_faults_are_transient_so_the_state_machine_retries_them():
    from qip.core.errors import TransientError

    assert issubclass(faults.InjectedFault, TransientError)
