"""Caption an audio file with LoquiLex as a library: who said what, turn by turn.

    python examples/library_callbacks.py meeting.wav

Prints each final caption with its speaker, each closed turn, and the requests and
commitments found in it; then the rolling context a language model could be given.
"""

import asyncio
import sys

from loquilex.stream import CaptionStream, StreamCallbacks, StreamError


class Printer(StreamCallbacks):
    def on_finalized(self, event):
        segment = event.payload["segment"]
        if segment["text"]:
            who = segment["speaker_id"] or "?"
            print(f"{who} [{segment['start']:6.2f}] {segment['text']}")

    def on_speaker_turn(self, event):
        turn = event.payload["turn"]
        print(f"-- {turn['id']}: {turn['speaker_id']} spoke {len(turn['segment_ids'])} finals")

    def on_semantic_update(self, event):
        for action in event.payload["actions"]:
            print(f"   {action['kind']}: {action['text']}")

    def on_error(self, error: StreamError):
        print(f"error {error.code}: {error.message}", file=sys.stderr)


async def main(path: str) -> None:
    stream = await CaptionStream.open(path, callbacks=Printer(), diarize=True)
    await stream.wait()
    print("context for a model:")
    print(stream.render_context_for_llm())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
