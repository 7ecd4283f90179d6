"""What happens to a record that cannot be deserialized, processed or produced.

The configured handler decides: fail (the task stops with an error naming topic,
partition and offset) or continue (the record is skipped). Either way the record is
counted, logged (once per kind of error at WARNING, then at DEBUG), and, when a
dead-letter topic is configured, its original bytes go there with headers saying why.
Nothing is dropped silently.
"""

from __future__ import annotations

import enum
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .errors import KStreamliteError, ProcessingError, ProductionError, SerializationError

if TYPE_CHECKING:
    from .config import StreamsConfig

log = logging.getLogger("kstreamlite.handlers")

HEADER_PREFIX = "kstreamlite.dlq."


class HandlerResponse(enum.Enum):
    CONTINUE = "continue"
    FAIL = "fail"


@dataclass(frozen=True)
class ErrorContext:
    """Everything known about a failed record, handed to a callable handler."""

    stage: str  # "deserialization" | "processing" | "production"
    topic: str | None
    partition: int | None
    offset: int | None
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: Any
    processor: str | None
    task_id: str | None

    @classmethod
    def of_message(
        cls, stage: str, msg: Any, processor: str | None, task_id: str | None
    ) -> ErrorContext:
        """The context of a consumed record (a confluent_kafka.Message or the driver's)."""
        return cls(
            stage=stage,
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            timestamp=msg.timestamp()[1],
            key=msg.key(),
            value=msg.value(),
            headers=msg.headers(),
            processor=processor,
            task_id=task_id,
        )


class Sender(Protocol):
    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        headers: Any,
        partition: int = -1,
    ) -> None: ...


class SkipCounter(Protocol):
    def record_skipped(self, reason: str, topic: str | None, dead_lettered: bool) -> None: ...
    def record_late(self, task_id: str, processor: str) -> None: ...


@dataclass(frozen=True)
class LateRecord:
    """What ``late_record_handler`` receives: a record whose windows had all closed."""

    key: Any
    value: Any
    timestamp: int
    watermark: int
    window: Any  # the (last) Window it would have belonged to
    topic: str | None
    partition: int | None
    offset: int | None
    processor: str
    task_id: str


class ErrorHandling:
    """One per application instance (or test driver); shared by its tasks."""

    def __init__(self, config: StreamsConfig, sender: Sender, metrics: SkipCounter) -> None:
        self._handlers = {
            "deserialization": config.deserialization_exception_handler,
            "processing": config.processing_exception_handler,
            "production": config.production_exception_handler,
        }
        self._dlq_topic = config.dead_letter_queue_topic
        self._late_handler = config.late_record_handler
        self._sender = sender
        self._metrics = metrics
        self._seen: set[tuple[str, str, str | None]] = set()
        self.skipped = 0

    def handle(self, exc: BaseException, ctx: ErrorContext) -> None:
        """Return to skip the record; raise a KStreamliteError to fail the task."""
        decision = self._decide(exc, ctx)
        dead_lettered = self._dead_letter(exc, ctx)
        self._log(exc, ctx, decision)
        if decision is HandlerResponse.FAIL:
            failure = self._failure(exc, ctx)
            failure.handled = True
            raise failure from exc
        self.skipped += 1
        self._metrics.record_skipped(ctx.stage, ctx.topic, dead_lettered)

    def late(self, record: LateRecord) -> None:
        """A late record: counted, and handed to ``late_record_handler`` when set."""
        self._metrics.record_late(record.task_id, record.processor)
        handler = self._late_handler
        if handler is None:
            return
        try:
            handler(record)
        except Exception:
            log.exception("late_record_handler raised for %r; ignoring", record)

    def count_dropped(
        self, reason: str, origin: tuple[str, int, int] | None, processor: str | None
    ) -> None:
        """A record an operator drops by design (Kafka Streams does the same), counted."""
        topic = origin[0] if origin else None
        self.skipped += 1
        self._metrics.record_skipped(reason, topic, False)
        kind = ("dropped", reason, processor)
        if kind not in self._seen:
            self._seen.add(kind)
            log.warning(
                "processor %s dropped a record (%s) from %s; further drops are only counted "
                "(kstreamlite_skipped_records_total)",
                processor,
                reason,
                origin,
            )

    def _decide(self, exc: BaseException, ctx: ErrorContext) -> HandlerResponse:
        handler = self._handlers[ctx.stage]
        if handler == "log_and_fail":
            return HandlerResponse.FAIL
        if handler == "log_and_continue":
            return HandlerResponse.CONTINUE
        answer = _call_handler(handler, exc, ctx)
        if answer in (HandlerResponse.CONTINUE, "continue", True):
            return HandlerResponse.CONTINUE
        return HandlerResponse.FAIL

    def _dead_letter(self, exc: BaseException, ctx: ErrorContext) -> bool:
        if not self._dlq_topic:
            return False
        headers = list(ctx.headers or ())
        headers += [
            (HEADER_PREFIX + "stage", ctx.stage.encode()),
            (HEADER_PREFIX + "topic", (ctx.topic or "").encode()),
            (HEADER_PREFIX + "partition", str(ctx.partition).encode()),
            (HEADER_PREFIX + "offset", str(ctx.offset).encode()),
            (HEADER_PREFIX + "exception", type(exc).__name__.encode()),
            (HEADER_PREFIX + "message", str(exc).encode("utf-8", "replace")[:4000]),
        ]
        if ctx.processor:
            headers.append((HEADER_PREFIX + "processor", ctx.processor.encode()))
        self._sender.send(
            self._dlq_topic, ctx.key, ctx.value, max(ctx.timestamp or 0, 0), headers, -1
        )
        return True

    def _log(self, exc: BaseException, ctx: ErrorContext, decision: HandlerResponse) -> None:
        kind = (ctx.stage, type(exc).__name__, ctx.topic)
        first = kind not in self._seen
        self._seen.add(kind)
        level = logging.ERROR if decision is HandlerResponse.FAIL else logging.WARNING
        if not first and decision is HandlerResponse.CONTINUE:
            level = logging.DEBUG
        action = "failing" if decision is HandlerResponse.FAIL else "skipping"
        more = "" if not first else " (further errors of this kind are logged at DEBUG)"
        log.log(
            level,
            "%s error at topic %s partition %s offset %s%s: %s: %s; %s the record%s",
            ctx.stage,
            ctx.topic,
            ctx.partition,
            ctx.offset,
            f" in processor {ctx.processor}" if ctx.processor else "",
            type(exc).__name__,
            exc,
            action,
            more if decision is HandlerResponse.CONTINUE else "",
        )

    def _failure(self, exc: BaseException, ctx: ErrorContext) -> KStreamliteError:
        hint = (
            f"set {ctx.stage}_exception_handler='log_and_continue' (optionally with "
            "dead_letter_queue_topic) to skip such records"
        )
        if ctx.stage == "deserialization":
            return SerializationError(
                f"cannot deserialize record: {type(exc).__name__}: {exc}; {hint}",
                topic=ctx.topic,
                partition=ctx.partition,
                offset=ctx.offset,
            )
        if ctx.stage == "processing":
            return ProcessingError(
                f"processor {ctx.processor!r} raised {type(exc).__name__}: {exc} while "
                f"processing topic {ctx.topic!r} partition {ctx.partition} offset {ctx.offset}"
                f" (task {ctx.task_id}); {hint}\n{_short_traceback(exc)}",
                processor=ctx.processor,
                topic=ctx.topic,
                partition=ctx.partition,
                offset=ctx.offset,
            )
        return ProductionError(
            f"production failed for the record from topic {ctx.topic!r} partition "
            f"{ctx.partition} offset {ctx.offset}: {type(exc).__name__}: {exc}; {hint}"
        )


def _call_handler(handler: Callable[..., Any], exc: BaseException, ctx: ErrorContext) -> Any:
    try:
        return handler(exc, ctx)
    except Exception as inner:
        log.exception("the %s exception handler itself raised; failing", ctx.stage)
        raise inner from exc


def _short_traceback(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if "/kstreamlite/" not in f.filename.replace("\\", "/")]
    shown = (user or frames)[-3:]
    return "".join(traceback.format_list(shown)).rstrip()


def failing_node_name(exc: BaseException) -> str | None:
    """The innermost topology node on the traceback: the one whose code raised."""
    from .processor._node import NodeProcessor
    from .runtime.fusion import NODE_LINES

    name = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        fused_lines = frame.f_globals.get(NODE_LINES)
        if fused_lines is not None:
            name = fused_lines.get(tb.tb_lineno, name)
        else:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, NodeProcessor):
                name = getattr(candidate, "name", None)
        tb = tb.tb_next
    return name
