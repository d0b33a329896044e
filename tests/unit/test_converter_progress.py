"""How often a converting job reports progress, on a clock the test moves."""

from __future__ import annotations

from uuid import uuid4

from contracts import ConversionProgress
from converter.progress import ProgressThrottle
from converter.settings import ConverterSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reports_come_every_few_seconds_and_only_when_the_percentage_moved() -> None:
    clock, sent = Clock(), list[ConversionProgress]()
    throttle = ProgressThrottle(uuid4(), sent.append, min_interval=2.0, min_step=1.0, clock=clock)

    # the transcoder calls back 50 times a second of wall time, over 10 s, for 1000 s of audio
    for tick in range(500):
        clock.now = tick * 0.02
        throttle(tick * 2.0, 1000.0)

    assert 4 <= len(sent) <= 6
    assert [round(report.percent) for report in sent][:2] == [1, 21]  # the first once 1 % is done
    assert all(report.total_seconds == 1000.0 for report in sent)


def test_a_slow_job_reports_no_more_than_each_percent() -> None:
    clock, sent = Clock(), list[ConversionProgress]()
    throttle = ProgressThrottle(uuid4(), sent.append, clock=clock, heartbeat=1000.0)

    for second in range(100):  # 0.1 % per 2 s
        clock.now = second * 2.0
        throttle(second * 0.1, 100.0)

    assert [report.percent for report in sent] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def test_without_a_stated_duration_a_heartbeat_keeps_the_job_alive() -> None:
    clock, sent = Clock(), list[ConversionProgress]()
    throttle = ProgressThrottle(uuid4(), sent.append, clock=clock, heartbeat=30.0)

    for second in range(100):
        clock.now = float(second)
        throttle(float(second * 10), None)

    assert len(sent) == 4  # at 0, 30, 60 and 90 s
    assert all(report.percent == 0 and report.total_seconds is None for report in sent)
    assert sent[-1].processed_seconds == 900.0


def test_the_prefetch_follows_the_conversions_a_process_runs() -> None:
    assert ConverterSettings(conversions=3).prefetch == 3
    assert ConverterSettings(prefetch=4).conversions == 4  # the older name
    assert ConverterSettings().prefetch == ConverterSettings().conversions == 2
