"""Command line: ``frontdesk serve | call | init | check | reconcile | outbox``."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from frontdesk.audio import AudioFormatError
from frontdesk.client.caller import CallerLine
from frontdesk.escalation import classify
from frontdesk.profile import Profile, ProfileError, ProfileRegistry, load_profile, write_example
from frontdesk.profile.loader import example_profile_text, parse_profile
from frontdesk.runtime import Runtime, Speech
from frontdesk.server.wire import WireError
from frontdesk.speech.base import MissingExtraError
from frontdesk.store import database_url, open_store

if TYPE_CHECKING:
    from frontdesk.actions.notify import SmsSender
    from frontdesk.telephony.edge import CarrierEdge

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="frontdesk: a self-hosted AI receptionist.")

ProfileOpt = Annotated[
    list[Path] | None,
    typer.Option("--profile", "-p", help="Business profile YAML (repeatable). "
                 "Default: $FRONTDESK_PROFILE or the shipped example auto shop."),
]
StubOpt = Annotated[
    bool, typer.Option("--stub", help="Stub speech providers with the profile's fixed delays "
                       "(no models needed).")
]


def _profiles(paths: list[Path] | None, stub: bool) -> list[Profile]:
    if not paths and os.environ.get("FRONTDESK_PROFILE"):
        paths = [Path(p) for p in os.environ["FRONTDESK_PROFILE"].split(os.pathsep)]
    try:
        profiles = ([load_profile(p) for p in paths] if paths
                    else [parse_profile(example_profile_text(), "<example>")])
    except ProfileError as error:
        typer.echo(f"invalid profile: {error}", err=True)
        raise typer.Exit(2) from None
    if stub:
        profiles = [_stubbed(p) for p in profiles]
    return profiles


def _stubbed(profile: Profile) -> Profile:
    providers = profile.engine.providers.model_copy(
        update={"stt": "stub", "tts": "stub", "vad": "energy"})
    engine = profile.engine.model_copy(update={"providers": providers})
    return profile.model_copy(update={"engine": engine})


def _runtime(profiles: list[Profile], now: str | None, script: list[str] | None = None) -> Runtime:
    try:
        speech = Speech.from_settings(profiles[0].engine, script=script)
        speech.warmup()
        classify.warm()  # the escalation classifier, before the first caller's turn
    except MissingExtraError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(3) from None
    from frontdesk.actions.factory import BackendConfigError
    from frontdesk.brain.llm.factory import LlmConfigError

    store = open_store(database_url())
    clock = _fixed_clock(now) if now else (lambda: datetime.now(UTC))
    runtime = Runtime(ProfileRegistry(profiles), store, speech, now=clock)
    try:
        for p in profiles:  # a missing backend secret fails here, not at the first booking
            runtime.desk(p)
        for p in profiles:  # ... and a missing model API key
            if p.brain == "llm":
                runtime.llm(p)
    except (BackendConfigError, LlmConfigError) as error:
        typer.echo(str(error), err=True)
        store.close()
        raise typer.Exit(2) from None
    return runtime


def _sms_for(edge: CarrierEdge | None) -> Callable[[Profile], SmsSender | None]:
    """Texts go out through the first configured carrier, from the business's number."""
    from frontdesk.server.backoffice import CarrierSms

    actions = None if edge is None else (edge.twilio or edge.telnyx)
    if actions is None:
        return lambda _: None
    return lambda p: CarrierSms(actions, p.business.phone_numbers[0])


def _fixed_clock(now: str) -> Callable[[], datetime]:
    """``--now`` pins the business clock (reproducible demos); time still advances."""
    start = datetime.fromisoformat(now)
    if start.tzinfo is None:
        raise typer.BadParameter("--now needs a UTC offset, e.g. 2026-11-25T10:00:00-06:00")
    began = datetime.now(UTC)
    return lambda: start + (datetime.now(UTC) - began)


@app.command()
def serve(
    profile: ProfileOpt = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    stub: StubOpt = False,
    sip: Annotated[str | None, typer.Option(
        "--sip", envvar="FRONTDESK_SIP_LISTEN",
        help="Also answer SIP calls (UDP, PCMU RTP) at HOST:PORT, e.g. 0.0.0.0:5060.")] = None,
) -> None:
    """Run the receptionist server (health, metrics, WebSocket calls, the Twilio and
    Telnyx routes when TWILIO_* / TELNYX_* and FRONTDESK_PUBLIC_URL are set, and a SIP
    listener with --sip)."""
    import uvicorn

    from frontdesk.server.app import WS_MAX_MESSAGE_BYTES, create_app
    from frontdesk.server.backoffice import BackOffice
    from frontdesk.telephony.config import CarrierConfigError, CarrierSettings
    from frontdesk.telephony.edge import CarrierEdge
    from frontdesk.telephony.sip.server import SipConfig, SipConfigError, SipServer

    try:
        carriers = CarrierSettings.from_env(os.environ)
        sip_config = SipConfig.from_listen(sip) if sip else None
    except (CarrierConfigError, SipConfigError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    runtime = _runtime(_profiles(profile, stub), None)
    numbers = [n for p in runtime.registry for n in p.business.phone_numbers]
    typer.echo(f"frontdesk: answering {', '.join(numbers)} on ws://{host}:{port}/call?to=NUMBER")
    edge = None
    if carriers is not None:
        edge = CarrierEdge.build(runtime, carriers)
        enabled = [name for name in ("twilio", "telnyx") if getattr(carriers, name)]
        typer.echo(f"frontdesk: carriers {', '.join(enabled)} at {carriers.public_url}")
    dialer = None
    if edge is not None and (edge.twilio or edge.telnyx) is not None:
        from frontdesk.server.callbacks import CarrierDialer

        actions = edge.twilio or edge.telnyx
        assert actions is not None
        dialer = CarrierDialer(actions, edge.settings.public_url)
    backoffice = BackOffice(runtime, sms_for=_sms_for(edge), dialer=dialer)
    sip_server = None
    if sip_config is not None:
        sip_server = SipServer(runtime, sip_config)
        typer.echo(f"frontdesk: answering SIP on udp {sip_config.host}:{sip_config.port}")
    app_ = create_app(runtime, edge, backoffice, sip=sip_server)
    # Everything loaded so far (modules, models, profiles) lives as long as the process.
    # Frozen, it is skipped by the collector's full passes, which stall every call while
    # they run: at 100 calls the longest pass measured 114 ms, 70 ms with this.
    gc.collect()
    gc.freeze()
    uvicorn.run(app_, host=host, port=port, log_level="info",
                ws_max_size=WS_MAX_MESSAGE_BYTES, ws_per_message_deflate=False)


@app.command()
def call(
    say: Annotated[list[str] | None, typer.Option("--say", help="A caller line (repeatable).")]
    = None,
    wav: Annotated[list[Path] | None, typer.Option("--wav", help="A caller WAV (repeatable).")]
    = None,
    profile: ProfileOpt = None,
    to: Annotated[str | None, typer.Option(help="Number dialled (default: the first "
                                           "business's first number).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    now: Annotated[str | None, typer.Option(help="Pin the business clock (ISO 8601).")] = None,
    stub: StubOpt = False,
    url: Annotated[str | None, typer.Option(help="Dial a running `frontdesk serve` instead, "
                                            "e.g. ws://127.0.0.1:8080.")] = None,
    carrier: Annotated[str | None, typer.Option(
        help="Call through an emulated carrier, twilio or telnyx: signed webhook, media "
             "stream in 20 ms mu-law frames, REST hang-up/transfer, all on loopback.")] = None,
) -> None:
    """Place a call against the engine. Text lines are synthesized, so the real audio path
    (VAD, endpointing, STT) runs. Lines are spoken in order: all --say, then all --wav."""
    from frontdesk.softphone import (
        Script,
        caller_voice,
        place_call,
        place_call_over_websocket,
        printer,
        report_json,
        synthesize_lines,
    )

    items = [("say", s) for s in say or []] + [("wav", str(w)) for w in wav or []]
    if not items:
        raise typer.BadParameter("give at least one --say or --wav")
    if carrier not in (None, "twilio", "telnyx"):
        raise typer.BadParameter("--carrier must be twilio or telnyx")
    if carrier and url:
        raise typer.BadParameter("--carrier runs its own server; it cannot be used with --url")
    profiles = _profiles(profile, stub)
    runtime = None if url else _runtime(profiles, now, script=list(say or []))
    number = to or profiles[0].business.phone_numbers[0]

    async def go() -> None:
        voice = caller_voice(profiles[0].engine.providers.tts)
        lines = await synthesize_lines(Script(items), voice)
        on_event = None if as_json else printer(typer.echo)
        if carrier is not None:
            assert runtime is not None
            await _carrier_call(runtime, carrier, lines, number, as_json)
            return
        if runtime is None:
            assert url is not None
            call_id, report = await place_call_over_websocket(
                url, lines, to_number=number, on_event=on_event)
        else:
            call_id, report = await place_call(runtime, lines, to_number=number,
                                               on_event=on_event)
        if as_json:
            typer.echo(json.dumps(report_json(call_id, report), indent=2))

    try:
        asyncio.run(go())
    except AudioFormatError as error:
        typer.echo(f"bad caller audio: {error}", err=True)
        raise typer.Exit(2) from None
    except (OSError, WireError) as error:
        typer.echo(f"could not call {url}: {error}", err=True)
        raise typer.Exit(4) from None
    finally:
        if runtime is not None:
            runtime.store.close()


async def _carrier_call(
    runtime: Runtime, carrier: str, lines: list[CallerLine], number: str, as_json: bool
) -> None:
    from frontdesk.client.harness import carrier_harness
    from frontdesk.softphone import place_call_via_carrier, stored_call_json

    async with carrier_harness(runtime) as harness:
        placed = await place_call_via_carrier(runtime, harness, carrier, lines, to_number=number)
    document = stored_call_json(runtime, placed, number)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    for turn in document["turns"]:
        if turn["caller"]:
            typer.echo(f"caller  > {turn['caller']}")
        cut = "  [interrupted]" if turn["interrupted"] else ""
        typer.echo(f"agent   > {turn['agent']}{cut}")
    heard = ", ".join(f"{ms:.0f}" for ms in document["caller_measured_latency_ms"])
    typer.echo(f"-- {carrier} call {document['status']} (outcome {document['outcome']}); "
               f"caller-measured latency ms: {heard}")


@app.command()
def reconcile(
    profile: ProfileOpt = None,
    call: Annotated[str | None, typer.Option(help="Only this call's bookings.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    now: Annotated[str | None, typer.Option(help="Pin the business clock (ISO 8601).")] = None,
) -> None:
    """Compare what callers were told with what the booking backend holds, fix what can
    be fixed, and print the findings. Exits 1 while callback tasks are open."""
    from frontdesk.actions.factory import BackendConfigError, build_desk
    from frontdesk.quality.reconcile import Reconciler

    profiles = _profiles(profile, False)
    clock = _fixed_clock(now) if now else (lambda: datetime.now(UTC))
    store = open_store(database_url())

    async def go() -> list[dict[str, object]]:
        results: list[dict[str, object]] = []
        for p in profiles:
            business = store.for_business(p.business.id)
            desk = build_desk(p, business, clock=clock)
            try:
                report = await Reconciler(desk, clock=clock).run(call_id=call)
            finally:
                await desk.aclose()
            open_ = await asyncio.to_thread(business.list_findings, open_only=True)
            results.append({
                "business": p.business.id, "backend": p.booking.backend,
                "checked": report.checked, "reconciled": report.reconciled,
                "unreachable": report.unreachable, "new": report.counts(),
                "open": [{"id": f.id, "kind": f.kind, "action": f.action,
                          "commitment": f.commitment_id, "found_at": f.found_at.isoformat(),
                          "detail": f.detail} for f in open_],
            })
        return results

    try:
        results = asyncio.run(go())
    except BackendConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(results, indent=2, default=str))
    else:
        for r in results:
            typer.echo(f"{r['business']} ({r['backend']}): checked {r['checked']}, "
                       f"reconciled {r['reconciled']}, unreachable {r['unreachable']}, "
                       f"new findings {r['new'] or 'none'}")
            for f in r["open"]:  # type: ignore[attr-defined]
                typer.echo(f"  OPEN {f['kind']:<18} {f['action']:<9} {f['found_at']} "
                           f"{json.dumps(f['detail'], default=str)}")
    if any(r["open"] for r in results):
        raise typer.Exit(1)


@app.command()
def outbox(
    profile: ProfileOpt = None,
    now: Annotated[str | None, typer.Option(help="Pin the business clock (ISO 8601).")] = None,
) -> None:
    """Run one back-office pass: finish unknown bookings, send the texts callers are owed,
    expire dropped sessions and their slot holds, and dial due callbacks (through the
    carrier configured by TWILIO_* / TELNYX_*). Safe to run on several machines at once."""
    from frontdesk.actions.factory import BackendConfigError, build_desk
    from frontdesk.actions.outbox import Outbox
    from frontdesk.call.continuity import sweep
    from frontdesk.server.backoffice import CarrierSms
    from frontdesk.server.callbacks import CarrierDialer, place_callbacks
    from frontdesk.telephony.config import CarrierConfigError, CarrierSettings
    from frontdesk.telephony.telnyx.rest import TelnyxActions
    from frontdesk.telephony.twilio.rest import TwilioActions

    profiles = _profiles(profile, False)
    clock = _fixed_clock(now) if now else (lambda: datetime.now(UTC))
    try:
        carriers = CarrierSettings.from_env(os.environ)
    except CarrierConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    store = open_store(database_url())

    async def go() -> None:
        actions: TwilioActions | TelnyxActions | None = None
        if carriers is not None and carriers.twilio is not None:
            actions = TwilioActions(carriers.twilio)
        elif carriers is not None and carriers.telnyx is not None:
            actions = TelnyxActions(carriers.telnyx.api)
        try:
            for p in profiles:
                desk = build_desk(p, store.for_business(p.business.id), clock=clock)
                sms = CarrierSms(actions, p.business.phone_numbers[0]) if actions else None
                owner = f"cli:{os.getpid()}"
                try:
                    report = await Outbox(desk, sms=sms, owner=owner, clock=clock).run_once()
                    await sweep(desk.store, p, desk, now=clock())
                    called = 0
                    if actions is not None and carriers is not None and p.sessions.callback:
                        called = await place_callbacks(
                            desk.store, p, CarrierDialer(actions, carriers.public_url),
                            owner=owner, now=clock)
                finally:
                    await desk.aclose()
                typer.echo(f"{p.business.id}: bookings {report.bookings or 'none'}, texts "
                           f"proposed {report.texts_proposed}, sent {report.texts_sent}, "
                           f"failed {report.texts_failed}, callbacks placed {called}")
        finally:
            if actions is not None:
                await actions.aclose()

    try:
        asyncio.run(go())
    except BackendConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the profile.")] = Path(
        "frontdesk.yaml"),
    force: bool = False,
) -> None:
    """Write an example business profile (an auto-repair shop) to edit."""
    try:
        write_example(path, overwrite=force)
    except FileExistsError as error:
        typer.echo(f"{error} (use --force to overwrite)", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {path}")


@app.command()
def check(paths: Annotated[list[Path], typer.Argument(help="Profiles to validate.")]) -> None:
    """Validate business profiles; prints file, field and reason for each problem."""
    failed = False
    for path in paths:
        try:
            load_profile(path)
            typer.echo(f"{path}: ok")
        except ProfileError as error:
            typer.echo(str(error), err=True)
            failed = True
    if failed:
        raise typer.Exit(2)


policy_app = typer.Typer(no_args_is_help=True, help="Try the escalation policy.")
calls_app = typer.Typer(no_args_is_help=True, help="Look at stored calls.")
app.add_typer(policy_app, name="policy")
app.add_typer(calls_app, name="calls")


@policy_app.command("check")
def policy_check(
    text: Annotated[str | None, typer.Argument(help="An utterance; none: one per stdin line.")
                    ] = None,
    profile: ProfileOpt = None,
    now: Annotated[str | None, typer.Option(help="When the call happens (routing depends "
                                            "on hours), ISO with offset.")] = None,
) -> None:
    """Print the escalation decision for an utterance as JSON (category or null, action,
    rule, evidence, confidence); with no text, one JSON object per line of stdin."""
    from frontdesk.escalation.check import check_utterance

    [chosen, *_] = _profiles(profile, False)
    at = _fixed_clock(now)() if now else datetime.now(UTC)
    lines = [text] if text is not None else (line.rstrip("\n") for line in sys.stdin)
    for line in lines:
        if text is None and not line.strip():
            continue
        typer.echo(json.dumps(check_utterance(chosen, line, now=at)))


@calls_app.command("show")
def calls_show(
    call_id: str,
    profile: ProfileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The whole record as JSON.")] = False,
) -> None:
    """A stored call: its turns, and every escalation decision and near miss on it."""
    from frontdesk.server.calls import find_call

    profiles = _profiles(profile, False)
    store = open_store(database_url())
    try:
        found = find_call(store, ProfileRegistry(profiles), call_id)
    finally:
        store.close()
    if found is None:
        typer.echo(f"no call {call_id}", err=True)
        raise typer.Exit(1)
    view = found[1]
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    call = view["call"]
    typer.echo(f"call {call['id']} from {call['from_number']} to {call['to_number']}, "
               f"{call['status']}, outcome {call['outcome']}, ended {call['end_reason']}"
               + (" [flagged for review]" if view["review"] else ""))
    for turn in view["turns"]:
        if turn["caller"]:
            typer.echo(f"  caller > {turn['caller']}")
        typer.echo(f"  agent  > {turn['agent']}")
    for item in view["escalations"]:
        detail = {k: v for k, v in item.items() if k not in ("kind", "at") and v is not None}
        typer.echo(f"  {item['kind']}: {json.dumps(detail)}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
