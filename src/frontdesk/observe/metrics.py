"""Prometheus metrics of the call engine, fed from the typed call events."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from frontdesk.call.budget import STAGES
from frontdesk.call.events import (
    BargeIn,
    CallEnded,
    EscalationDecided,
    EventBus,
    TurnMetrics,
)

_LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)
_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0)


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.turn_latency = Histogram(
            "frontdesk_turn_latency_seconds",
            "Caller's last speech frame to the first agent audio frame",
            ["business"], buckets=_LATENCY_BUCKETS, registry=r)
        self.stage = Histogram(
            "frontdesk_turn_stage_seconds", "Per-stage latency of a turn",
            ["business", "stage"], buckets=_STAGE_BUCKETS, registry=r)
        self.over_budget = Counter(
            "frontdesk_turns_over_budget_total", "Turns whose latency exceeded the budget",
            ["business"], registry=r)
        self.barge_ins = Counter(
            "frontdesk_barge_ins_total", "Caller speech that interrupted the agent",
            ["business"], registry=r)
        self.calls = Counter(
            "frontdesk_calls_total", "Finished calls by outcome", ["business", "outcome"],
            registry=r)
        self.escalations = Counter(
            "frontdesk_escalations_total", "Turns the escalation policy took over",
            ["business", "category", "action"], registry=r)
        self.active = Gauge("frontdesk_active_calls", "Calls in progress", ["business"],
                            registry=r)
        self.llm_turns = Counter(
            "frontdesk_llm_turns_total", "Caller turns the LLM brain took, by what answered "
            "(model, provider: the fallback model, brain: the receptionist, tools: the ledger)",
            ["business", "answered", "filler"], registry=r)
        self.llm_first_token = Histogram(
            "frontdesk_llm_first_token_seconds", "Model request to its first text or tool call",
            ["business"], buckets=_STAGE_BUCKETS, registry=r)
        self.llm_guard = Counter(
            "frontdesk_llm_guard_violations_total",
            "Model claims the never-lie guard replaced before they were spoken",
            ["business", "kind"], registry=r)

    def llm_turn(self, business: str, *, fallback: str | None, filler: bool,
                 first_token_s: float | None, violations: Sequence[str]) -> None:
        """One turn of the LLM brain (``fallback``: None when the model answered)."""
        self.llm_turns.labels(business, fallback or "model", str(filler).lower()).inc()
        if first_token_s is not None:
            self.llm_first_token.labels(business).observe(first_token_s)
        for kind in violations:
            self.llm_guard.labels(business, kind).inc()

    def watch(self, bus: EventBus, business: str) -> None:
        """Subscribe to one call's events."""
        self.active.labels(business).inc()

        def on_turn(event: TurnMetrics) -> None:
            if event.latency_ms is not None:
                self.turn_latency.labels(business).observe(event.latency_ms / 1000)
                if event.over_budget:
                    self.over_budget.labels(business).inc()
            for stage in STAGES:
                if stage in event.spans_ms:
                    self.stage.labels(business, stage).observe(event.spans_ms[stage] / 1000)

        def on_end(event: CallEnded) -> None:
            self.active.labels(business).dec()
            self.calls.labels(business, event.outcome).inc()

        bus.subscribe(TurnMetrics, on_turn)
        bus.subscribe(BargeIn, lambda _: self.barge_ins.labels(business).inc())
        bus.subscribe(CallEnded, on_end)
        bus.subscribe(EscalationDecided, lambda e: self.escalations.labels(
            business, e.category, e.action).inc())


class BackOfficeMetrics:
    """What the outbox and reconciliation did: the business-outcome layer of monitoring.

    An alert on ``frontdesk_reconcile_findings_total`` (any increase) or on
    ``frontdesk_callback_tasks_open`` (above zero for long) catches a backend that loses
    bookings or a caller who was told something the calendar does not hold."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.findings = Counter(
            "frontdesk_reconcile_findings_total",
            "Mismatches between what callers were told and what the backend holds",
            ["business", "kind", "action"], registry=r)
        self.resolved = Counter(
            "frontdesk_outbox_resolved_total",
            "Commitments the outbox finished after the call, by final state",
            ["business", "state"], registry=r)
        self.texts = Counter(
            "frontdesk_outbox_texts_total", "Texts the outbox sent or gave up on",
            ["business", "result"], registry=r)
        self.callbacks_open = Gauge(
            "frontdesk_callback_tasks_open", "Reconciliation findings waiting for a person",
            ["business"], registry=r)
