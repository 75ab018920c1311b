"""The lab style: the same colour for a partition, node or group in every chart; HiDPI
pictures shown at their intended size; a larger presenter size (LABKIT_PRESENTER=1)."""

from __future__ import annotations

import struct

import pytest

from labkit.exceptions import SettingsError
from labkit.lab.charts import LiveChart, colour
from labkit.lab.charts import style as lab_style
from labkit.settings import Settings


def _chart(keys: list[str], title: str) -> LiveChart:
    chart = LiveChart(title=title).add_series("", lambda: dict.fromkeys(keys, 1.0))
    chart._sample(0.0, 0.0)
    return chart


def _colours(chart: LiveChart) -> dict[str, str]:
    return {ln.get_label(): ln.get_color() for ln in chart.figure().axes[0].lines}


def test_colours_are_stable_across_charts() -> None:
    first = _colours(_chart(["p0", "p1", "p2", "alerts", "monthly-report"], "one"))
    second = _colours(_chart(["monthly-report", "p2", "alerts", "p1"], "two"))
    for name, c in second.items():
        assert first[name] == c, name
    assert first["p1"] == lab_style.NUMBERED[1] == colour("node 1") == colour("partition 1")
    assert len(set(first.values())) == len(first)  # different names, different colours


def test_png_is_hidpi_and_shown_at_the_intended_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_PRESENTER", raising=False)
    chart = _chart(["p0"], "size")
    png = chart.png()
    width, height = struct.unpack(">II", png[16:24])
    shown = lab_style.REGULAR.pixels()
    assert (width, height) == (2 * shown[0], 2 * shown[1])
    assert shown[0] > 630 and shown[1] > 290  # larger than the old 630x290
    live = chart.png(scale=1)  # the live frames: half the pixels each way, same picture
    assert struct.unpack(">II", live[16:24]) == shown


def test_presenter_size_is_larger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_PRESENTER", "1")
    assert Settings.from_env().presenter is True
    big = _chart(["p0"], "big").figure()
    monkeypatch.setenv("LABKIT_PRESENTER", "off")
    regular = _chart(["p0"], "regular").figure()
    assert big.get_size_inches()[0] > regular.get_size_inches()[0]
    assert big.get_size_inches()[1] > regular.get_size_inches()[1]
    assert big.axes[0].title.get_fontsize() > regular.axes[0].title.get_fontsize()
    assert big.axes[0].xaxis.label.get_fontsize() > regular.axes[0].xaxis.label.get_fontsize()


def test_presenter_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_PRESENTER", "big")
    with pytest.raises(SettingsError, match="LABKIT_PRESENTER='big' is not on or off"):
        Settings.from_env()
    monkeypatch.delenv("LABKIT_PRESENTER")
    assert Settings.from_env().presenter is False
