"""shapejit.pipeline and shapejit.overlap: plain data out, agreement with the published
figures, and a hand-computed overlap case."""

from __future__ import annotations

import pytest

import shapejit
from shapejit import overlap, pipeline


def test_dualpipe_schedule_as_plain_data():
    s = pipeline.schedule("dualpipe", 4, 8)
    assert (s["kind"], s["ranks"], s["stages"], s["micro_batches"]) == ("dualpipe", 4, 4, 8)
    assert len(s["ops"]) == 4
    # Every micro-batch runs forward once at every stage, in both directions of DualPipe.
    forwards = [(p["stage"], p["micro_batch"]) for rank in s["ops"] for op in rank for p in op["passes"]
                if p["kind"] == "F"]
    assert len(forwards) == len(set(forwards)) == 4 * 8
    assert any(len(op["passes"]) == 2 and "&" in op["label"] for rank in s["ops"] for op in rank)


@pytest.mark.parametrize("kind,ranks,mb", [("1f1b", 4, 12), ("zb1p", 4, 12), ("dualpipe", 4, 8), ("dualpipev", 4, 8)])
def test_simulated_bubble_matches_the_published_table(kind, ranks, mb):
    r = pipeline.simulate(kind, ranks, mb, F=1, B=2, W=1, FB=2.5)
    assert r["max_bubble"] == pytest.approx(r["published"]["bubble"])
    assert r["max_parameter_copies"] == r["published"]["parameters"]
    for rank in r["per_rank"]:
        assert rank["busy"] + rank["bubble"] == pytest.approx(r["makespan"])
    assert r["svg"].lstrip().startswith("<svg") and r["svg"].rstrip().endswith("</svg>")
    ends = [end for rank in r["timing"] for (_, _, end) in rank]
    assert max(ends) == pytest.approx(r["makespan"])


def test_bad_schedule_requests_raise_invalid_argument():
    with pytest.raises(shapejit.InvalidArgument, match="even"):
        pipeline.schedule("dualpipe", 3, 8)
    with pytest.raises(shapejit.InvalidArgument):
        pipeline.schedule("gpipe", 4, 8)
    with pytest.raises(shapejit.InvalidArgument):
        pipeline.simulate("1f1b", 4, 8, W=3)   # W > B


def _profile(comm_sms):
    # Per half of 512 tokens: attention 10 us, experts 20 us, dispatch = combine = 5 us
    # (1000 B/token at 102.4 GB/s whatever the SMs).
    comm = {"bytes_per_token": 1000, "gbps_per_sm": 0, "gbps_without_sms": 102.4, "max_gbps": 102.4}
    return {"format": "shapejit.cost_profile.v1", "device": {"name": "test", "sms": 132},
            "phases": {"prefill": {"tokens": 1024, "moe_layers": 1, "comm_sms": comm_sms,
                                   "ops": {"attention": {"us_per_token": 10 / 512},
                                           "moe_gemm": {"us_per_token": 20 / 512},
                                           "shared_expert": {"us_per_token": 0},
                                           "dispatch": comm, "combine": comm}}}}


def test_overlap_chooser_on_a_hand_computed_profile():
    (choice,) = overlap.choose_overlap(_profile([0]))
    assert choice["phase"] == "prefill"
    # One micro-batch of 1024 tokens: attention 20 + dispatch 10 + experts 40 + combine 10 = 80 us.
    assert choice["best_unsplit"]["layer_us"] == pytest.approx(80.0)
    halves = [c for c in choice["evaluated"] if c["split"] and tuple(c["tokens"]) == (512, 512)]
    assert halves and halves[0]["layer_us"] == pytest.approx(65.0)
    assert choice["best"]["split"] and choice["best"]["layer_us"] <= 65.0 + 1e-9
    assert choice["reasoning"]


def test_overlap_reads_json_text_and_files(tmp_path):
    import json

    text = json.dumps(_profile([0, 2]))
    path = tmp_path / "profile.json"
    path.write_text(text)
    assert overlap.choose_overlap(text)[0]["best"] == overlap.choose_overlap(str(path))[0]["best"]
    with pytest.raises(shapejit.InvalidArgument, match="sms"):
        overlap.choose_overlap({"device": {}, "phases": {}})
