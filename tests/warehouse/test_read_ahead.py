"""The read-ahead thread a large log's parts are parsed in (`warehouse.read_ahead`)."""

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_pipeline.warehouse.read_ahead import read_ahead


class ParserBroke(Exception):
    pass


@given(items=st.lists(st.integers()), depth=st.integers(1, 3))
def test_every_item_arrives_once_in_order(items, depth):
    assert list(read_ahead(iter(items), depth)) == items


@given(items=st.lists(st.integers(), min_size=1), data=st.data())
def test_an_error_of_the_source_comes_after_every_item_before_it(items, data):
    fails_at = data.draw(st.integers(0, len(items)))

    def source():
        yield from items[:fails_at]
        raise ParserBroke(f"line {fails_at}")

    received = []
    with pytest.raises(ParserBroke, match=f"line {fails_at}"):
        for item in read_ahead(source()):
            received.append(item)
    assert received == items[:fails_at]


def test_a_consumer_that_stops_early_stops_the_thread_and_closes_the_source():
    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    with pytest.raises(RuntimeError, match="staging failed"):
        for item in read_ahead(endless(), depth=2):
            if item == 3:
                raise RuntimeError("staging failed")
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]


def test_the_next_part_is_produced_while_the_consumer_still_holds_this_one():
    second_produced = threading.Event()

    def source():
        yield "first"
        second_produced.set()
        yield "second"

    parts = read_ahead(source())
    assert next(parts) == "first"
    # Nothing more was asked for, yet the thread has already produced the second part.
    assert second_produced.wait(timeout=10)
    assert list(parts) == ["second"]
