"""Turn-taking as a transition table.

Everything that moves the conversation's floor between caller and agent lives in this
file: the states, the events and the table. The Call feeds events in; an event the table
does not list for the current state is a bug in the caller of this module and raises
:class:`IllegalTransition` (h11's ``_state.py`` is the model).

    CONNECTING --Answered--> THINKING (the greeting is the first reply)
    LISTENING  --SpeechStarted--> CALLER_SPEAKING
    CALLER_SPEAKING --EndOfTurn--> THINKING
    THINKING   --FirstAudio--> AGENT_SPEAKING
    AGENT_SPEAKING --PlayoutDone--> LISTENING
    THINKING / AGENT_SPEAKING --SpeechStarted--> CALLER_SPEAKING   (barge-in)
    any live state --Dtmf--> THINKING (a key press is a whole turn)
    any live state --Hangup--> ENDED
"""

from __future__ import annotations

import enum


class TurnState(enum.Enum):
    CONNECTING = "connecting"
    LISTENING = "listening"
    CALLER_SPEAKING = "caller_speaking"
    THINKING = "thinking"
    AGENT_SPEAKING = "agent_speaking"
    ENDED = "ended"


class TurnEvent(enum.Enum):
    ANSWERED = "answered"
    SPEECH_STARTED = "speech_started"
    END_OF_TURN = "end_of_turn"
    NO_INPUT = "no_input"  # the caller stayed silent: the agent re-prompts
    DTMF = "dtmf"  # a key press is a complete caller turn
    FIRST_AUDIO = "first_audio"
    NOTHING_TO_SAY = "nothing_to_say"
    PLAYOUT_DONE = "playout_done"
    AGENT_HANGUP = "agent_hangup"
    HANGUP = "hangup"


S, E = TurnState, TurnEvent

TRANSITIONS: dict[TurnState, dict[TurnEvent, TurnState]] = {
    S.CONNECTING: {E.ANSWERED: S.THINKING, E.HANGUP: S.ENDED},
    S.LISTENING: {
        E.SPEECH_STARTED: S.CALLER_SPEAKING,
        E.NO_INPUT: S.THINKING,
        E.DTMF: S.THINKING,
        E.AGENT_HANGUP: S.ENDED,
        E.HANGUP: S.ENDED,
    },
    S.CALLER_SPEAKING: {
        E.END_OF_TURN: S.THINKING,
        E.DTMF: S.THINKING,
        E.HANGUP: S.ENDED,
    },
    S.THINKING: {
        E.FIRST_AUDIO: S.AGENT_SPEAKING,
        E.SPEECH_STARTED: S.CALLER_SPEAKING,
        E.NOTHING_TO_SAY: S.LISTENING,
        E.DTMF: S.THINKING,
        E.AGENT_HANGUP: S.ENDED,
        E.HANGUP: S.ENDED,
    },
    S.AGENT_SPEAKING: {
        E.SPEECH_STARTED: S.CALLER_SPEAKING,
        E.PLAYOUT_DONE: S.LISTENING,
        E.DTMF: S.THINKING,
        E.AGENT_HANGUP: S.ENDED,
        E.HANGUP: S.ENDED,
    },
    S.ENDED: {E.HANGUP: S.ENDED},
}


class IllegalTransition(RuntimeError):
    """The Call tried an event its current state does not accept (a local bug)."""

    def __init__(self, state: TurnState, event: TurnEvent) -> None:
        super().__init__(f"turn state {state.value} cannot handle {event.value}")
        self.state = state
        self.event = event


class TurnMachine:
    """The current turn state; :meth:`handle` is the only way to change it."""

    def __init__(self) -> None:
        self.state = TurnState.CONNECTING

    def accepts(self, event: TurnEvent) -> bool:
        return event in TRANSITIONS[self.state]

    def handle(self, event: TurnEvent) -> TurnState:
        try:
            self.state = TRANSITIONS[self.state][event]
        except KeyError:
            raise IllegalTransition(self.state, event) from None
        return self.state
