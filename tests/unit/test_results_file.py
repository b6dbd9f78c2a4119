"""The results file of a resumable benchmark: records read back only under the same settings; cut lines skipped."""

from __future__ import annotations

from gan_studio.metrics.results_file import append_result, read_results


def test_records_come_back_under_their_settings_only(tmp_path):
    path = tmp_path / "runs.jsonl"
    assert read_results(path, {"steps": 1}) == []  # no file yet
    with path.open("a") as f:
        append_result(f, {"seed": 0, "settings": {"steps": 1}})
        append_result(f, {"seed": 1, "settings": {"steps": 2}})
        append_result(f, {"seed": 2, "settings": {"steps": 1}})
    with path.open("a") as f:
        f.write('{"seed": 3, "settings": {"st')  # a line cut by a kill
    assert [r["seed"] for r in read_results(path, {"steps": 1})] == [0, 2]
    assert [r["seed"] for r in read_results(path, {"steps": 2})] == [1]
    assert read_results(path, {"steps": 3}) == []
