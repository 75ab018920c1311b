"""Kafka errors mapped to labkit's, by code."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from labkit.exceptions import KafkaRequestError, UsageError
from labkit.kafka import errors


def test_every_code_name_the_mapping_uses_is_one_of_confluent_kafkas() -> None:
    names = [n for group in (errors._UNKNOWN_TOPIC, errors._NOT_ANSWERING, errors._BAD_REQUEST)
             for n in group]
    assert [n for n in names if not hasattr(KafkaError, n)] == []


def test_a_refusal_maps_to_a_request_error_with_its_code() -> None:
    denied = KafkaException(KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED))
    mapped = errors.to_labkit(denied, "describe broker 1")
    assert type(mapped) is KafkaRequestError
    assert mapped.code == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    bad = KafkaException(KafkaError(KafkaError.TOPIC_EXCEPTION))
    assert isinstance(errors.to_labkit(bad, "create topic 'a b'"), UsageError)
