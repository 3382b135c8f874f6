"""Reading a big index.json entry by entry gives exactly what json.load gives."""

from __future__ import annotations

import io
import json

import pytest

from archiver import jsonstream
from archiver.jsonstream import load_object

DOCUMENTS = [
    "{}",
    ' { "a" : [ ] , "b":[1, 2 ,{"x":[3, "]"]}], "c": 12345678901234, "d":"Nguyễn \\u0110\\u00e9", "e": null} ',
    '{"schema": "archiver.index/1",\n"transcripts": [\n{"name": "Lê Thị Ánh"},\n{"name": "Đỗ Văn Bình"}],\n'
    '"quarantine": []}\n',
    '{"n": -1.5e3, "t": true, "f": false, "nested": {"list": [[1], [2]]}}',
]


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 18])
@pytest.mark.parametrize("text", DOCUMENTS)
def test_same_result_as_json_whatever_the_chunk_size(text: str, chunk: int, monkeypatch):
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    assert load_object(io.StringIO(text)) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", '{"a":1', '{"a":[1,2}', '{"a":1}x', "[1]", '{"a" 1}', "{1:2}",
                                  '{"a":[1,]}'])
def test_malformed_documents_are_value_errors(text: str):
    with pytest.raises(ValueError):
        load_object(io.StringIO(text))


def test_object_hook_sees_every_object():
    seen = []
    load_object(io.StringIO('{"a": [{"b": 1}], "c": {"d": 2}}'), object_hook=lambda o: seen.append(o) or o)
    assert seen == [{"b": 1}, {"d": 2}, {"a": [{"b": 1}], "c": {"d": 2}}]
