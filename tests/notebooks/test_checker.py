"""The notebooks' self-check (workbook.lessons.exercises): forms it accepts (also the Korean edition's),
feedback aimed at common wrong answers, and wrongly formatted answers not counted as tries.
Every expected verdict below is reasoned by hand next to the case."""

from __future__ import annotations

import pytest

from workbook.lessons.exercises import check_answer, check_prediction, reset, same_answer


@pytest.fixture(autouse=True)
def fresh():
    reset()
    yield
    reset()


@pytest.mark.parametrize("said", [True, "True", "true", " yes ", "Y", "참", "예", "네", "'참'"])
def test_true_in_english_and_korean(said):
    assert check_answer("t", said, True).status == "correct"
    assert check_answer("f", said, False).status == "wrong"


@pytest.mark.parametrize("said", [False, "False", "no", "N", "거짓", "아니오", "아니요"])
def test_false_in_english_and_korean(said):
    assert check_answer("f", said, False).status == "correct"


@pytest.mark.parametrize("said", [0.5, "0.5", "50%", "50 %", " 50% ", "1/2", "0.50000000000", ".5"])
def test_one_half_in_every_usual_form(said):
    # the post's KUBE-SVC rule prints probability 0.50000000000 for two endpoints: 1/2
    assert check_answer("p", said, 0.5).status == "correct"


def test_one_third_as_iptables_prints_it():
    # 1/3 stored as an integer out of 2^31 prints as 0.33333333349: the learner's 1/3 must pass
    assert same_answer("1/3", 0.33333333349) and same_answer(1 / 3, 0.33333333349)
    assert same_answer("33.3%", 0.33333333349) is False  # three digits are not enough to say 1/3


@pytest.mark.parametrize("said, expected", [
    ("maybe", True),      # not a truth value
    (1, True),            # a number for a True/False question
    ("four", 4),          # a word for a number
    (True, 4),            # a truth value for a number
    (["a", "b"], 4),      # a list for one value
    (4, "KUBE-SERVICES"),  # a number for a chain name
    (50, 0.5),            # a bare percentage where a fraction is asked
    (object(), 4),        # anything at all: never a traceback
])
def test_wrong_form_is_explained_and_not_counted(said, expected):
    for _ in range(5):  # five badly formed answers in a row…
        fb = check_answer("q", said, expected, reveal_after=3)
        assert fb.status == "format" and "does not count" in fb.message
    # …and the first real wrong answer is still only the first try: no answer revealed
    wrong = check_answer("q", 2 if not isinstance(expected, (bool, str)) else ("zzz" if isinstance(expected, str) else False),
                         expected, reveal_after=3)
    assert wrong.status == "wrong" and "The data says" not in wrong.message


def test_percentage_slip_says_how_to_write_it():
    fb = check_answer("p", 50, 0.5)
    assert fb.status == "format" and '"50%"' in fb.message and "0.5" in fb.message


def test_three_wrong_tries_reveal_the_answer():
    for guess in (1, 2):
        assert "The data says" not in check_answer("q", guess, 5).message
    assert "The data says: 5." in check_answer("q", 3, 5).message
    assert check_answer("q", 5, 5).status == "correct"


def test_common_wrong_answer_gets_its_own_feedback():
    # 1.1: a packet from the network for a local process passes PREROUTING then INPUT (CHAINS.md §8)
    common = {("INPUT",): "PREROUTING comes first: every packet from the network passes it before routing.",
              ("PREROUTING", "FORWARD", "INPUT"): "FORWARD is for packets routed *through* the node."}
    fb = check_answer("1.1", ["INPUT"], ["PREROUTING", "INPUT"], ordered=True, common=common)
    assert fb.status == "wrong" and "PREROUTING comes first" in fb.message
    fb = check_answer("1.1", "prerouting, forward, input", ["PREROUTING", "INPUT"], ordered=True, common=common)
    assert "routed *through*" in fb.message


def test_near_misses_are_named():
    assert "wrong order" in check_answer("o", ["INPUT", "PREROUTING"], ["PREROUTING", "INPUT"], ordered=True).message
    assert "Off by one" in check_answer("n", 7, 8).message
    assert "1 too many" in check_answer("l", ["a", "b", "c"], ["a", "b"]).message
    assert "1 more belong" in check_answer("m", ["a"], ["a", "b"]).message


@pytest.mark.parametrize("said", ["PREROUTING, INPUT", "PREROUTING → INPUT", "PREROUTING -> INPUT",
                                  "[prerouting, input]", ("PREROUTING", "INPUT"), "PREROUTING INPUT"])
def test_lists_written_without_python_syntax(said):
    assert check_answer("1.1", said, ["PREROUTING", "INPUT"], ordered=True).status == "correct"


def test_feedback_shows_values_as_a_learner_writes_them():
    for guess in (["a", "c"], ["c", "d"]):
        check_answer("s", guess, ["a", "b"])
    msg = check_answer("s", ["x", "y"], ["a", "b"]).message
    # no Python reprs (['x', 'y']), the values as one would type them
    assert "['" not in msg
    assert 'you answered ["x", "y"]' in msg and 'The data says: ["a", "b"].' in msg
    assert "1.0" not in check_answer("w", 1.0, 2).message


def test_unanswered_gets_the_hint():
    fb = check_answer("u", ..., 4, hint="Count the -P lines.")
    assert fb.status == "unanswered" and "Count the -P lines." in fb.message


def test_prediction_tells_the_outcome_and_why():
    fb = check_prediction("p", 1, 2, why="one branch per kube-dns endpoint",
                          common={1: "The simulator follows every way a packet may go, not one."})
    assert fb.status == "wrong"
    assert "the trace shows 2" in fb.message and "every way" in fb.message and "kube-dns endpoint" in fb.message
    assert check_prediction("p", "2", 2).status == "correct"
    assert check_prediction("p", ..., 2).status == "unanswered"
    assert check_prediction("p", "two", 2).status == "format"
    assert check_prediction("p", "예", True).status == "correct"
    assert check_prediction("p", "100%", 1.0).status == "correct"
