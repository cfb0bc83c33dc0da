"""One reply's streaming path: brain text → phrases → TTS → 20 ms frames → the line.

Three stages run concurrently under one TaskGroup so the first phrase plays while the
brain is still producing the rest and the next phrase is being synthesized. The Playout
also keeps the books barge-in needs: which frames of which phrase reached the caller, so
the transcript can keep exactly the played part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Protocol

from frontdesk.audio.pcm import FRAME_BYTES
from frontdesk.call.budget import Stamp, TurnClock
from frontdesk.call.events import AgentPhraseStarted, EventBus
from frontdesk.call.phrases import PhraseChunker
from frontdesk.speech.base import SpeechError, TextToSpeech

log = logging.getLogger(__name__)
_FRAMES_PER_CHAR = 3  # ~60 ms of speech per character: an upper bound for a TTS voice


class _Output(Protocol):
    async def write(self, frame: bytes) -> None: ...


class Playout:
    def __init__(
        self,
        turn: int,
        tts: TextToSpeech,
        output: _Output,
        bus: EventBus,
        clock: TurnClock,
        on_first_frame: Callable[[], None],
    ) -> None:
        self.turn = turn
        self.hangup_after = False
        self._tts = tts
        self._output = output
        self._bus = bus
        self._clock = clock
        self._on_first_frame = on_first_frame
        self._phrases: list[str] = []
        self._synthesized: list[int] = []  # frames produced per phrase
        self._complete: list[bool] = []  # synthesis of the phrase finished
        self._played: list[int] = []  # frames written per phrase (minus any cleared)

    @property
    def started(self) -> bool:
        return any(self._played)

    async def run(self, text: AsyncGenerator[str, None]) -> bool:
        """Play everything the brain says; returns whether the call should end after."""
        phrases: asyncio.Queue[str | None] = asyncio.Queue()
        frames: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._chunk(text, phrases))
            tg.create_task(self._synthesize(phrases, frames))
            await self._play(frames)
        return self.hangup_after

    async def _chunk(
        self, text: AsyncGenerator[str, None], out: asyncio.Queue[str | None]
    ) -> None:
        chunker = PhraseChunker()
        async with contextlib.aclosing(text):
            async for piece in text:
                for phrase in chunker.push(piece):
                    self._clock.mark(Stamp.FIRST_PHRASE)
                    await out.put(phrase)
        for phrase in chunker.flush():
            self._clock.mark(Stamp.FIRST_PHRASE)
            await out.put(phrase)
        await out.put(None)

    async def _synthesize(
        self, phrases: asyncio.Queue[str | None], out: asyncio.Queue[tuple[int, bytes] | None]
    ) -> None:
        while (phrase := await phrases.get()) is not None:
            index = len(self._phrases)
            self._phrases.append(phrase)
            self._synthesized.append(0)
            self._complete.append(False)
            self._played.append(0)
            pending = b""
            try:
                async with contextlib.aclosing(self._tts.stream(phrase)) as audio:
                    async for chunk in audio:
                        self._clock.mark(Stamp.FIRST_AUDIO)
                        pending += chunk
                        while len(pending) >= FRAME_BYTES:
                            frame, pending = pending[:FRAME_BYTES], pending[FRAME_BYTES:]
                            self._synthesized[index] += 1
                            await out.put((index, frame))
            except SpeechError as error:
                # the caller hears less, not a dead line; the transcript says what played
                log.warning("tts failed on %r (retryable=%s): %s", phrase, error.retryable, error)
            if pending:
                self._synthesized[index] += 1
                await out.put((index, pending.ljust(FRAME_BYTES, b"\0")))
            self._complete[index] = True
        await out.put(None)

    async def _play(self, frames: asyncio.Queue[tuple[int, bytes] | None]) -> None:
        while (item := await frames.get()) is not None:
            index, frame = item
            first = not self.started
            if first:
                self._on_first_frame()
            if self._played[index] == 0:
                self._bus.publish(AgentPhraseStarted(self.turn, self._phrases[index],
                                                     self._clock.clock()))
            await self._output.write(frame)
            self._played[index] += 1  # counted once the line took it
            if first:
                self._clock.mark(Stamp.FIRST_FRAME)

    def interrupt(self, unplayed: int) -> None:
        """The line dropped ``unplayed`` frames we had written: take them off the books."""
        for index in reversed(range(len(self._played))):
            take = min(unplayed, self._played[index])
            self._played[index] -= take
            unplayed -= take

    def planned_text(self) -> str:
        return " ".join(self._phrases)

    def played_text(self) -> str:
        """Whole phrases that were fully played, plus the played share of a cut phrase."""
        words: list[str] = []
        for phrase, played, total, complete in zip(
            self._phrases, self._played, self._synthesized, self._complete, strict=True
        ):
            if complete and total == 0:
                continue  # synthesis failed: nothing of it reached the caller
            if played == 0:
                break
            if complete and played >= total:
                words.extend(phrase.split())
                continue
            # still being synthesized: judge the share against the phrase's likely length
            expected = total if complete else max(total, len(phrase) * _FRAMES_PER_CHAR)
            # speech time follows characters more closely than words: keep the words
            # whose last character falls inside the played share, less one, because a
            # real voice is not exactly linear in characters (pauses, slow numbers)
            cut = int(len(phrase) * played / max(expected, 1))
            kept = phrase[:cut]
            if cut < len(phrase) and not phrase[cut].isspace():
                kept = kept.rsplit(" ", 1)[0] if " " in kept else ""
            words.extend(kept.split()[:-1])
            break
        return " ".join(words)
