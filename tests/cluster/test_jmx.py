"""JmxTool's output read, and a class node's JMX flags (the real reading is in
tests/test_classroom.py, against a running class cluster)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from labkit.cluster.classroom import _user_of
from labkit.cluster.jmx import jmx_flags, parse_csv, write_jmx_files

OUT = ('time,"1796307445736"\n'
       'kafka.server:type=KafkaServer,name=BrokerState:Value,"3"\n'
       'kafka.server:type=Produce,user=s01:throttle-time,"2134.6"\n'
       'kafka.server:type=Fetch,user=s02:throttle-time,"NaN"\n')


def test_jmxtool_csv_is_read_by_its_last_comma() -> None:
    values = parse_csv(OUT)
    assert values == {"kafka.server:type=KafkaServer,name=BrokerState:Value": 3.0,
                      "kafka.server:type=Produce,user=s01:throttle-time": 2134.6,
                      "kafka.server:type=Fetch,user=s02:throttle-time": 0.0}


def test_the_user_of_a_metric() -> None:
    assert _user_of("kafka.server:type=Produce,user=s01:throttle-time") == "s01"
    assert _user_of("kafka.server:type=KafkaServer,name=BrokerState:Value") is None


def test_jmx_is_loopback_only_with_a_password(tmp_path: Path) -> None:
    secret, access = write_jmx_files(tmp_path, "pw")
    assert secret.read_text() == "monitor pw\n" and access.read_text() == "monitor readonly\n"
    for f in (secret, access):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    flags = jmx_flags(14095, secret, access)
    assert "-Dcom.sun.management.jmxremote.host=127.0.0.1" in flags
    assert "-Dcom.sun.management.jmxremote.authenticate=true" in flags
    assert f"-Dcom.sun.management.jmxremote.password.file={secret}" in flags
