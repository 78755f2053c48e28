"""The grid benchmark's reading of the page's key and paint times."""

from bench.grid_label import _grid_latencies, _single_latencies


def test_enter_is_timed_to_the_last_tile_painted_before_the_next_key():
    probe = {
        "keys": [
            {"at": 100.0, "key": "ArrowRight"},
            {"at": 200.0, "key": "Enter"},
            {"at": 900.0, "key": "1"},
            {"at": 1000.0, "key": "Enter"},
        ],
        "tiles": [
            {"at": 50.0, "id": ""},  # the first page, before any key
            {"at": 230.0, "id": ""},
            {"at": 260.0, "id": ""},  # the next page's last tile: 60 ms after Enter
            {"at": 1500.0, "id": ""},  # after the last Enter: 500 ms
        ],
        "stage": [],
    }
    assert _grid_latencies(probe) == [60.0, 500.0]


def test_an_enter_with_no_page_painted_after_it_is_not_counted():
    probe = {"keys": [{"at": 10.0, "key": "Enter"}], "tiles": [{"at": 5.0, "id": ""}]}
    assert _grid_latencies(probe) == []


def test_a_single_mode_key_is_timed_to_the_next_photo_painted():
    probe = {
        "keys": [{"at": 100.0, "key": "1"}, {"at": 400.0, "key": "Enter"}],
        "stage": [20.0, 130.0, 460.0],
        "tiles": [],
    }
    assert _single_latencies(probe) == [30.0, 60.0]
