"""The bench's model of the control semantics (docs/spec.md section 7) and its standard scenarios."""
import pytest

from pezo.sim.scenario import Scenario, expected_words, mixed, zo_steps


def test_positions_follow_replay_next_and_reset():
    ops = (("take", 2), ("replay",), ("take", 3), ("next",), ("take", 1), ("next",), ("take", 4), ("reset",),
           ("take", 1))
    assert expected_words(Scenario(4, ops)) == [(0, 0, 2, 4), (0, 0, 3, 4), (4, 0, 1, 4), (8, 0, 4, 4), (0, 0, 1, 4)]


def test_length_is_taken_up_when_a_perturbation_starts():
    ops = (("take", 1), ("length", 2), ("take", 2), ("next",), ("take", 2), ("length", 3), ("replay",), ("take", 3))
    assert expected_words(Scenario(5, ops)) == [(0, 0, 1, 5), (1, 1, 2, 5), (5, 0, 2, 2), (5, 0, 3, 3)]


def test_joined_scenarios_reset_between_them():
    joined = Scenario(3, (("take", 3),)) + Scenario(5, (("take", 5),))
    assert expected_words(joined) == [(0, 0, 3, 3), (0, 0, 5, 5)]


def test_overrunning_a_perturbation_is_refused():
    with pytest.raises(ValueError, match="take 2 after 3 of 4 words overruns the perturbation"):
        expected_words(Scenario(4, (("take", 3), ("take", 2))))


@pytest.mark.parametrize("length, words", [(10, 1), (10, 25), (10, 26), (7, 1000)])
def test_zo_steps_carry_exactly_the_words_asked_for(length, words):
    scenario = zo_steps(length, words)
    assert scenario.words == words
    assert sum(count for *_, count, _ in expected_words(scenario)) == words


def test_mixed_covers_every_control_operation():
    kinds = {op[0] for op in mixed(8, 2000, seed=5).operations}
    assert kinds == {"take", "chance", "replay", "next", "reset"}
