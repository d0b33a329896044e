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
