"""The lifecycle of one SIP dialog as seen by a UAS, as a transition table.

    EARLY     --answer-->      ANSWERED   (200 OK sent, retransmitted until the ACK)
    EARLY     --reject/cancel--> ENDED
    ANSWERED  --ack-->         CONFIRMED
    ANSWERED  --ack_timeout--> ENDING     (no ACK in 64·T1: we send BYE, RFC 3261 §13.3.1.4)
    ANSWERED / CONFIRMED --remote_bye--> ENDED
    ANSWERED / CONFIRMED --local_bye-->  ENDING   (our BYE, retransmitted until answered)
    ENDING    --remote_bye / bye_done--> ENDED

An input the table does not list for the current state raises
:class:`IllegalTransition`: the caller of this module has a bug (``h11/_state.py`` is the
model). The dialog core in ``uas.py`` consults :func:`allowed` before feeding an input
that came from the peer, so a peer's out-of-order request gets a SIP error response, not
an exception.
"""

from __future__ import annotations

import enum

__all__ = ["DialogInput", "DialogState", "IllegalTransition", "allowed", "transition"]


class DialogState(enum.Enum):
    EARLY = "early"
    ANSWERED = "answered"
    CONFIRMED = "confirmed"
    ENDING = "ending"
    ENDED = "ended"


class DialogInput(enum.Enum):
    ANSWER = "answer"
    REJECT = "reject"
    CANCEL = "cancel"
    ACK = "ack"
    ACK_TIMEOUT = "ack_timeout"
    REMOTE_BYE = "remote_bye"
    LOCAL_BYE = "local_bye"
    BYE_DONE = "bye_done"  # our BYE was answered, or timed out


class IllegalTransition(RuntimeError):
    """An input the dialog's current state does not accept (a local bug)."""


S, I = DialogState, DialogInput  # noqa: E741

TRANSITIONS: dict[DialogState, dict[DialogInput, DialogState]] = {
    S.EARLY: {I.ANSWER: S.ANSWERED, I.REJECT: S.ENDED, I.CANCEL: S.ENDED},
    S.ANSWERED: {I.ACK: S.CONFIRMED, I.ACK_TIMEOUT: S.ENDING, I.REMOTE_BYE: S.ENDED,
                 I.LOCAL_BYE: S.ENDING},
    S.CONFIRMED: {I.REMOTE_BYE: S.ENDED, I.LOCAL_BYE: S.ENDING},
    S.ENDING: {I.REMOTE_BYE: S.ENDED, I.BYE_DONE: S.ENDED},
    S.ENDED: {},
}


def allowed(state: DialogState, event: DialogInput) -> bool:
    return event in TRANSITIONS[state]


def transition(state: DialogState, event: DialogInput) -> DialogState:
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition(f"{event.value} in state {state.value}") from None
