"""Push audio frames into a LoquiLex stream and read its events with ``async for``.

    python examples/library_events.py speech.wav

Stands in for audio that arrives in pieces (a call, a socket): the file is decoded and
pushed 100 ms at a time, and every final is printed as it comes.
"""

import asyncio
import sys

from loquilex.audio import decode_file
from loquilex.stream import CaptionStream


async def main(path: str) -> None:
    samples = decode_file(path)  # 16 kHz mono float32
    stream = await CaptionStream.open(None, diarize=False)  # None: frames are pushed

    async def feed() -> None:
        for start in range(0, len(samples), 1600):
            stream.push(samples[start : start + 1600])
            await asyncio.sleep(0)  # let the stream work between pieces
        stream.end()

    feeder = asyncio.create_task(feed())
    async for event in stream.events():
        if event.type == "FINALIZED" and event.payload["segment"]["text"]:
            print(f"[{event.ts_audio_start:6.2f}] {event.payload['segment']['text']}")
    await feeder


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
