"""The decoded audio on its way to an encoder that takes blocks of any length (the system libmp3lame)."""

from __future__ import annotations

from array import array

import av

from converter.filters import AudioPipeline


def frame(number: int, *, layout: str = "stereo", samples: int = 1024, rate: int = 44_100) -> av.AudioFrame:
    """Planar float samples, each the frame's number (so their order can be read back)."""
    made = av.AudioFrame(format="fltp", layout=layout, samples=samples)
    made.sample_rate, made.pts = rate, number * samples
    for plane in made.planes:
        plane.update(array("f", [float(number)] * samples).tobytes())
    return made


def left_channel(blocks: list[av.AudioFrame]) -> list[float]:
    return [value for block in blocks for value in array("f", bytes(block.planes[0]))[: block.samples]]


def pipeline(batch: int) -> AudioPipeline:
    return AudioPipeline(rate=44_100, layout="stereo", sample_format="fltp", frame_size=None, batch_samples=batch)


def test_frames_the_encoder_takes_are_gathered_into_blocks_in_order() -> None:
    gathering = pipeline(4096)

    out = [block for number in range(10) for block in gathering.push(frame(number))]
    out += gathering.push(None)

    assert [block.samples for block in out] == [4096, 4096, 2048]
    assert left_channel(out) == [float(n) for n in range(10) for _ in range(1024)]


def test_a_frame_the_encoder_does_not_take_sends_the_rest_through_the_resampler_in_order() -> None:
    gathering = pipeline(8192)

    out = [*gathering.push(frame(1)), *gathering.push(frame(2))]
    # the source goes mono (the FIFO, given such a frame, would crash): what it gathered comes first
    out += gathering.push(frame(3, layout="mono"))
    out += gathering.push(frame(4, layout="mono"))
    out += gathering.push(None)

    assert all(block.layout.name == "stereo" and block.format.name == "fltp" for block in out)
    assert sum(block.samples for block in out) == 4 * 1024
    assert left_channel(out)[:2048] == [1.0] * 1024 + [2.0] * 1024


def middles(blocks: list[av.AudioFrame], frames: int, *, source_rate: int = 48_000) -> list[float]:
    """The left channel's value in the middle of each source frame (resampling blurs the edges)."""
    values = left_channel(blocks)
    return [round(values[int((n * 1024 + 512) * 44_100 / source_rate)], 2) for n in range(frames)]


def gain(layout: str) -> float:
    """What the downmix to stereo makes of a constant 1.0 in every channel of ``layout``."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=44_100)
    block = resampler.resample(frame(1, layout=layout, samples=4096, rate=48_000))[0]
    return array("f", bytes(block.planes[0]))[1000]


def test_frames_to_resample_go_through_the_resampler_a_batch_at_a_time_in_order() -> None:
    # 5.1 at 48 kHz, as a film's AAC track: downmixed and resampled once per batch, not per frame
    converting = pipeline(8192)

    out = [block for number in range(20) for block in converting.push(frame(number, layout="5.1", rate=48_000))]
    during = len(out)
    out += converting.push(None)

    assert during == 2  # 20 frames of 1024: two batches of 8192 went through before the end
    assert all(block.layout.name == "stereo" and block.sample_rate == 44_100 for block in out)
    assert abs(sum(block.samples for block in out) - round(20 * 1024 * 44_100 / 48_000)) <= 1
    assert middles(out, 20) == [round(n * gain("5.1"), 2) for n in range(20)]


def test_a_source_that_changes_shape_midway_is_resampled_anew_in_order() -> None:
    # broadcast recordings switch between 5.1 and stereo (the adverts): each shape gets its resampler
    converting = pipeline(4096)
    shapes = ["5.1"] * 6 + ["stereo"] * 6 + ["mono"] * 6

    out = [
        block
        for number, layout in enumerate(shapes)
        for block in converting.push(frame(number, layout=layout, rate=48_000))
    ]
    out += converting.push(None)

    assert all(block.layout.name == "stereo" and block.sample_rate == 44_100 for block in out)
    assert abs(sum(block.samples for block in out) - round(18 * 1024 * 44_100 / 48_000)) <= 3
    assert middles(out, 18)[1:-1] == [round(n * gain(layout), 2) for n, layout in enumerate(shapes)][1:-1]
