"""Lab controls (ipywidgets): a producer, a consumer, the brokers and a time-travel slider.

Every button calls a plain method (``start``, ``pause``, ``kill``...), so code and tests can
drive a panel without a browser. Methods raise; a button shows the error in the panel's
``status`` line and keeps it in ``last_error``. Show a panel by leaving it last in a cell.
"""

from __future__ import annotations

from labkit.exceptions import ControlError
from labkit.lab.controls.panels import BrokerPanel, ConsumerPanel, ProducerPanel
from labkit.lab.controls.timetravel import TimeTravel

__all__ = ["BrokerPanel", "ConsumerPanel", "ControlError", "ProducerPanel", "TimeTravel"]
