"""Turn-taking transition table: legal walks, barge-in, DTMF and every illegal pair."""

from __future__ import annotations

import itertools

import pytest

from frontdesk.call.turns import (
    TRANSITIONS,
    IllegalTransition,
    TurnEvent,
    TurnMachine,
    TurnState,
)

S, E = TurnState, TurnEvent

LIVE = (S.LISTENING, S.CALLER_SPEAKING, S.THINKING, S.AGENT_SPEAKING)

ALL_PAIRS = list(itertools.product(TurnState, TurnEvent))
LEGAL_PAIRS = [(s, e) for s, e in ALL_PAIRS if e in TRANSITIONS[s]]
ILLEGAL_PAIRS = [(s, e) for s, e in ALL_PAIRS if e not in TRANSITIONS[s]]


def machine_in(state: TurnState) -> TurnMachine:
    """A machine put in ``state`` (the table is what is under test, not the path to it)."""
    machine = TurnMachine()
    machine.state = state
    return machine


def test_a_new_machine_is_connecting() -> None:
    assert TurnMachine().state is S.CONNECTING


def test_the_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(TurnState)
    # sanity on the enumeration itself, so the pair tests below are not vacuous
    assert len(ILLEGAL_PAIRS) > 30 and len(LEGAL_PAIRS) > 15


# Written out independently of TRANSITIONS, from the module's documented diagram, so that a
# change to the table is a deliberate change to this list too.
DOCUMENTED = {
    (S.CONNECTING, E.ANSWERED, S.THINKING),
    (S.CONNECTING, E.HANGUP, S.ENDED),
    (S.LISTENING, E.SPEECH_STARTED, S.CALLER_SPEAKING),
    (S.LISTENING, E.NO_INPUT, S.THINKING),
    (S.LISTENING, E.DTMF, S.THINKING),
    (S.LISTENING, E.AGENT_HANGUP, S.ENDED),
    (S.LISTENING, E.HANGUP, S.ENDED),
    (S.CALLER_SPEAKING, E.END_OF_TURN, S.THINKING),
    (S.CALLER_SPEAKING, E.DTMF, S.THINKING),
    (S.CALLER_SPEAKING, E.HANGUP, S.ENDED),
    (S.THINKING, E.FIRST_AUDIO, S.AGENT_SPEAKING),
    (S.THINKING, E.SPEECH_STARTED, S.CALLER_SPEAKING),
    (S.THINKING, E.NOTHING_TO_SAY, S.LISTENING),
    (S.THINKING, E.DTMF, S.THINKING),
    (S.THINKING, E.AGENT_HANGUP, S.ENDED),
    (S.THINKING, E.HANGUP, S.ENDED),
    (S.AGENT_SPEAKING, E.SPEECH_STARTED, S.CALLER_SPEAKING),
    (S.AGENT_SPEAKING, E.PLAYOUT_DONE, S.LISTENING),
    (S.AGENT_SPEAKING, E.DTMF, S.THINKING),
    (S.AGENT_SPEAKING, E.AGENT_HANGUP, S.ENDED),
    (S.AGENT_SPEAKING, E.HANGUP, S.ENDED),
    (S.ENDED, E.HANGUP, S.ENDED),
}


def test_the_table_is_exactly_the_documented_one() -> None:
    table = {(s, e, t) for s, row in TRANSITIONS.items() for e, t in row.items()}
    assert table == DOCUMENTED


def test_full_legal_walk() -> None:
    walk = [
        (E.ANSWERED, S.THINKING),  # the greeting is the first reply
        (E.FIRST_AUDIO, S.AGENT_SPEAKING),
        (E.PLAYOUT_DONE, S.LISTENING),
        (E.SPEECH_STARTED, S.CALLER_SPEAKING),
        (E.END_OF_TURN, S.THINKING),
        (E.FIRST_AUDIO, S.AGENT_SPEAKING),
        (E.PLAYOUT_DONE, S.LISTENING),
        (E.NO_INPUT, S.THINKING),  # silence: the agent re-prompts
        (E.NOTHING_TO_SAY, S.LISTENING),
        (E.DTMF, S.THINKING),
        (E.FIRST_AUDIO, S.AGENT_SPEAKING),
        (E.SPEECH_STARTED, S.CALLER_SPEAKING),  # barge-in
        (E.END_OF_TURN, S.THINKING),
        (E.AGENT_HANGUP, S.ENDED),
        (E.HANGUP, S.ENDED),  # the carrier's hangup after ours is absorbed
    ]
    machine = TurnMachine()
    for event, expected in walk:
        assert machine.handle(event) is expected, event
        assert machine.state is expected


@pytest.mark.parametrize("state", [S.THINKING, S.AGENT_SPEAKING])
def test_barge_in_hands_the_floor_to_the_caller(state: TurnState) -> None:
    machine = machine_in(state)
    assert machine.handle(E.SPEECH_STARTED) is S.CALLER_SPEAKING
    assert machine.state is S.CALLER_SPEAKING


@pytest.mark.parametrize("state", LIVE)
def test_dtmf_is_a_whole_turn_from_every_live_state(state: TurnState) -> None:
    machine = machine_in(state)
    assert machine.accepts(E.DTMF)
    assert machine.handle(E.DTMF) is S.THINKING


@pytest.mark.parametrize("state", [*LIVE, S.CONNECTING])
def test_caller_hangup_ends_from_every_state(state: TurnState) -> None:
    machine = machine_in(state)
    assert machine.handle(E.HANGUP) is S.ENDED


@pytest.mark.parametrize(("state", "event"), ILLEGAL_PAIRS,
                         ids=[f"{s.name}-{e.name}" for s, e in ILLEGAL_PAIRS])
def test_every_pair_not_in_the_table_raises_and_keeps_the_state(
    state: TurnState, event: TurnEvent
) -> None:
    machine = machine_in(state)
    with pytest.raises(IllegalTransition) as raised:
        machine.handle(event)
    assert machine.state is state
    assert raised.value.state is state
    assert raised.value.event is event
    assert state.value in str(raised.value) and event.value in str(raised.value)


@pytest.mark.parametrize(("state", "event"), LEGAL_PAIRS,
                         ids=[f"{s.name}-{e.name}" for s, e in LEGAL_PAIRS])
def test_every_pair_in_the_table_moves_to_its_target(state: TurnState, event: TurnEvent) -> None:
    machine = machine_in(state)
    assert machine.handle(event) is TRANSITIONS[state][event]
    assert machine.state is TRANSITIONS[state][event]


def test_ended_absorbs_hangup_only() -> None:
    assert TRANSITIONS[S.ENDED] == {E.HANGUP: S.ENDED}
    machine = machine_in(S.ENDED)
    for event in TurnEvent:
        if event is E.HANGUP:
            assert machine.handle(event) is S.ENDED
        else:
            with pytest.raises(IllegalTransition):
                machine.handle(event)
        assert machine.state is S.ENDED


def test_nothing_leaves_ended_and_nothing_returns_to_connecting() -> None:
    for state, row in TRANSITIONS.items():
        assert S.CONNECTING not in row.values(), state
    assert set(TRANSITIONS[S.ENDED].values()) == {S.ENDED}


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS,
                         ids=[f"{s.name}-{e.name}" for s, e in ALL_PAIRS])
def test_accepts_agrees_with_the_table_and_with_handle(
    state: TurnState, event: TurnEvent
) -> None:
    machine = machine_in(state)
    accepted = machine.accepts(event)
    assert accepted is (event in TRANSITIONS[state])
    assert machine.state is state  # asking does not move
    if accepted:
        machine.handle(event)
    else:
        with pytest.raises(IllegalTransition):
            machine.handle(event)


def test_illegal_transition_is_a_local_bug_not_a_value_error() -> None:
    # the Call's own fault: it must not be caught by handlers of bad remote input
    assert issubclass(IllegalTransition, RuntimeError)
    assert not issubclass(IllegalTransition, ValueError)
