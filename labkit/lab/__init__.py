"""The teaching UI: live charts, exercise checks and solutions, lab controls (widgets), and
starting JupyterLab on the lessons. The top of labkit's layers: it may use everything below
(toolkit, domain, queries, backends); nothing below imports it.

Reached as ``labkit.charts``, ``labkit.check`` and ``labkit.controls`` in the lessons.
"""

from __future__ import annotations

from labkit.lab.jupyter import NOTEBOOKS, jupyter_command

__all__ = ["NOTEBOOKS", "jupyter_command"]
