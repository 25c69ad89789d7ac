"""The pure hypothesis rules of asr/_stabilize.py, on word lists shaped like real decodes."""

from __future__ import annotations

from loquilex.asr._engine import Hypothesis, HypWord
from loquilex.asr._stabilize import (
    clean_tail,
    drop_echoes,
    drop_overlap,
    drop_restart,
    drop_squeezed,
    ends_final,
    ends_sentence,
    is_hallucination,
    says_again,
    sentence_breaks,
    skipped,
    split_sentences,
    truncate_loops,
)
from loquilex.types import Word


def _hyp(*spec: tuple[str, float, float]) -> list[HypWord]:
    return [HypWord(text, t0, t1, 0.9) for text, t0, t1 in spec]


def _words(*spec: tuple[str, float, float]) -> list[Word]:
    return [Word(text, t0, t1, 0.9) for text, t0, t1 in spec]


def _text(words: list[HypWord]) -> str:
    return " ".join(w.text for w in words)


def test_a_repeat_squeezed_into_the_pause_is_dropped() -> None:
    # The final beam's decode of voices-2 at 20.58 s: "I did." said again at one instant.
    words = _hyp(("I", 0.0, 0.56), ("did.", 0.56, 0.7), ("I", 0.7, 0.7), ("did.", 0.7, 0.7))
    assert _text(clean_tail(words, audio_end=1.04)) == "I did."


def test_a_sentence_said_twice_keeps_the_copy_the_audio_holds() -> None:
    # The next decode said the whole sentence twice; the first copy got no time at all.
    squeezed = [(w, 0.5, 0.5) for w in "three hundred and ninety. From".split()]
    words = _hyp(
        ("From", 0.0, 0.46),
        ("about", 0.46, 0.5),
        *squeezed,
        ("about", 0.5, 0.86),
        ("three", 0.86, 1.16),
        ("hundred", 1.16, 1.5),
        ("and", 1.5, 1.68),
        ("ninety.", 1.68, 2.2),
    )
    assert _text(clean_tail(words, audio_end=4.65)) == "From about three hundred and ninety."


def test_a_word_said_again_in_no_time_is_a_loop_on_it() -> None:
    # standup's final decode at 45.66 s (replay, 2026-12-07): eight copies of "Perfect.",
    # the first 0.56 s long and the rest in one step or none. Three of them came out as
    # three finals "Perfect.".
    words = _hyp(
        ("Perfect.", 44.56, 45.12),
        ("Perfect.", 45.12, 45.12),
        ("Perfect.", 45.12, 45.14),
        *[("Perfect.", 45.3, 45.3)] * 4,
        ("Perfect", 45.32, 45.32),
    )
    assert _text(clean_tail(words, audio_end=1.1 + 44.56)) == "Perfect."
    # A word the speaker says twice takes time both times; another word in one step stays.
    said = _hyp(("No,", 0.0, 0.3), ("no.", 0.32, 0.6), ("I", 0.6, 0.6), ("did.", 0.6, 0.9))
    assert drop_echoes(said) == said
    # The forced word before the new ones counts as the word before.
    forced = _hyp(("Next.", 0.0, 0.34))
    assert _text(drop_echoes(_hyp(("Next.", 0.34, 0.34), ("The", 0.5, 0.7)), forced)) == "The"


def test_a_sentence_started_over_in_no_time_at_the_end_is_a_loop() -> None:
    # jfk's final decode at 10.85 s (replay, 2026-12-07): after the last sentence, its
    # first words again in the crowd noise; "Ask" was captioned as a final of its own.
    sentence = _timed("Ask what you can do for your country.", 7.92)
    words = [*sentence, *_hyp(("Ask", 10.76, 10.82), ("what", 10.82, 10.82))]
    assert _text(clean_tail(words, audio_end=10.85)) == "Ask what you can do for your country."
    # Said again with time for it, or not after a sentence end, the words stay.
    spoken = [*sentence, *_hyp(("Ask", 10.5, 10.8))]
    assert drop_restart(spoken) == spoken
    assert drop_restart(sentence[:-1] + _hyp(("Ask", 9.9, 9.95))) == [
        *sentence[:-1],
        *_hyp(("Ask", 9.9, 9.95)),
    ]
    # Forced words before ``start`` are never cut.
    assert drop_restart([*sentence, *_hyp(("Ask", 10.76, 10.82))], start=9) == [
        *sentence,
        *_hyp(("Ask", 10.76, 10.82)),
    ]


def test_one_word_looped_in_audio_no_voice_model_heard_is_no_speech() -> None:
    # A breath after a sentence (test_streaming_realistic, -44 dBFS, on an AVX-512 machine,
    # 2026-12-07): the final beam wrote "No." seven times, sure of itself in the loop.
    looped = _hyp(("No.", 8.15, 8.67), *[("No.", 9.09, 9.09)] * 6)
    hyp = Hypothesis(tuple(looped), avg_logprob=-0.61, no_speech_prob=0.57, compression_ratio=2.0)
    unvoiced = {"unvoiced_no_speech_threshold": 0.7, "unvoiced_logprob_threshold": -0.75}
    assert is_hallucination(hyp, **unvoiced, unvoiced_loop_words=3)
    assert not is_hallucination(hyp, **unvoiced)  # what let it through
    assert not is_hallucination(hyp)  # where a voice model heard speech, it may be speech
    # Whispered words that are not one word over and over stay, and so do forced words.
    said = Hypothesis(
        tuple(_hyp(("No,", 0.0, 0.3), ("no,", 0.3, 0.6), ("I", 0.7, 0.8), ("did.", 0.8, 1.1))),
        avg_logprob=-0.4,
        no_speech_prob=0.3,
    )
    assert not is_hallucination(said, **unvoiced, unvoiced_loop_words=3)
    forced = Hypothesis(tuple(looped[:4]), prefix_len=3, avg_logprob=-0.4, no_speech_prob=0.3)
    assert not is_hallucination(forced, **unvoiced, unvoiced_loop_words=3)


def test_one_short_word_is_not_squeezed_text() -> None:
    words = _hyp(("I", 0.0, 0.0), ("am", 0.0, 0.2), ("here", 0.2, 0.5), ("a", 0.5, 0.5))
    assert _text(drop_squeezed(words)) == "I am here a"
    # Against the end of the audio a zero-length last word is still dropped.
    assert _text(clean_tail(words, audio_end=0.55)) == "I am here"


def test_an_ellipsis_does_not_end_a_sentence() -> None:
    assert ends_sentence("well.") and ends_sentence("why?") and ends_sentence('"now!"')
    assert not ends_sentence("about...")
    assert not ends_sentence("about…")
    assert not ends_sentence("about..")
    words = _words(("From", 0.0, 0.4), ("about...", 0.4, 0.8), ("three", 1.2, 1.5))
    assert sentence_breaks(words, first=0, audio_end=3.0, right_context_s=0.3) == []
    assert len(split_sentences(words)) == 1


def test_a_title_or_an_address_prefix_does_not_end_a_sentence() -> None:
    # phone, at real time: a decode cut after "visit www." put the break there, and
    # "asterisk.org" was lost to the next utterance.
    for word in ("Dr.", "Mr.", "mrs.", "www.", "e.g.", '"St.'):
        assert not ends_sentence(word), word
    words = _words(("Ask", 0.0, 0.3), ("Dr.", 0.3, 0.6), ("Smith", 0.6, 1.0), ("now.", 1.0, 1.4))
    assert len(split_sentences(words)) == 1
    assert sentence_breaks(words, first=0, audio_end=3.0, right_context_s=0.3) == []
    # A full stop after anything else still ends one.
    assert ends_sentence("www.asterisk.org.") and ends_sentence("doctor.") and ends_sentence("No.")


def test_a_single_letter_with_a_full_stop_is_an_initial() -> None:
    # lj-read (replay, 2026-12-07): "… printed in black letter, i.e. the letter which …"
    # came out as "letter. I. E. The letter", and "I." and "E." as two finals of their own.
    for word in ("I.", "E.", "f.", '"J.'):
        assert not ends_sentence(word), word
    words = _words(("I.", 0.0, 0.3), ("E.", 0.4, 0.5), ("The", 0.6, 0.8), ("letter.", 0.8, 1.2))
    assert [len(p) for p in split_sentences(words)] == [4]
    assert ends_sentence("I?") and ends_sentence("OK.") and ends_sentence("me.")


def test_a_comma_ends_a_final_only_after_enough_words() -> None:
    words = _words(
        ("Okay,", 0.0, 0.4),
        ("let's", 0.45, 0.7),
        ("get", 0.7, 0.9),
        ("started,", 0.9, 1.4),
        ("Priya,", 1.5, 1.9),
        ("you", 1.9, 2.1),
    )
    assert not ends_final(words, 3)  # off unless asked for
    assert not ends_final(words, 0, 4)  # one word is not a clause
    assert ends_final(words, 3, 4)
    assert not ends_final(words, 3, 5)
    assert not ends_final(words, 5, 4)  # nothing after it yet
    assert not ends_final(words, 2, 2)  # no comma
    assert sentence_breaks(words, first=0, audio_end=3.0, right_context_s=0.3) == []
    at = sentence_breaks(words, first=0, audio_end=3.0, right_context_s=0.3, clause_min_words=4)
    assert at == [3, 4]  # "Priya," too: the final beam decides which, if any, ends it
    # Too little audio after the comma yet.
    assert (
        sentence_breaks(words, first=0, audio_end=1.6, right_context_s=0.3, clause_min_words=4)
        == []
    )
    # A comma needs more audio after it than a full stop does.
    assert (
        sentence_breaks(
            words,
            first=0,
            audio_end=2.0,
            right_context_s=0.3,
            clause_min_words=4,
            clause_context_s=1.0,
        )
        == []
    )
    assert sentence_breaks(
        words,
        first=0,
        audio_end=2.4,
        right_context_s=0.3,
        clause_min_words=4,
        clause_context_s=1.0,
    ) == [3]


def _timed(text: str, start: float = 0.0) -> list[HypWord]:
    return [
        HypWord(w, start + 0.3 * i, start + 0.3 * i + 0.25, 0.9) for i, w in enumerate(text.split())
    ]


def test_back_to_back_repeats_are_loops() -> None:
    for looped, kept in [
        ("Right, we have 42. Right, we have 42. Right, we have 42.", "Right, we have 42."),
        ("The child almost hurt. The child almost", "The child almost hurt."),
        ("Sunday is here. Sunday. Sunday. Sunday. Sunday.", "Sunday is here. Sunday."),
        ("We are sure. What joy there is. What joy there is", "We are sure. What joy there is."),
    ]:
        assert _text(truncate_loops(_timed(looped))) == kept


def test_a_phrase_said_again_after_other_words_is_speech() -> None:
    # lj-read, 2026-12-07: "… on the side of the lower case than the capital letters, the
    # lower case being in fact invented …". Cutting at the second "the lower case" (as any
    # repeated three words used to be) lost every word after it for nine seconds of audio.
    text = "on the side of the lower case than the capital letters, the lower case being in fact"
    assert _text(truncate_loops(_timed(text))) == text
    assert _text(truncate_loops(_timed("one of the best and one of the worst days"))) == (
        "one of the best and one of the worst days"
    )


def test_new_words_are_not_lost_to_a_repeat_inside_the_forced_context() -> None:
    context = _timed("very very very very good")
    new = _timed("and then we left", 1.5)
    assert _text(clean_tail(new, audio_end=3.0, context=context)) == "and then we left"
    # Re-saying the forced context is still a loop.
    context = _timed("at that high level the air is pure.")
    again = _timed("at that high level the air is pure. at that", 2.4)
    assert clean_tail(again, audio_end=5.0, context=context) == []


def test_a_decode_that_skips_agreed_words_is_told_from_one_that_revises_them() -> None:
    """Cases met in the dev set's replays: skips (a quiet phrase dropped for the loud voice
    after it; a short first word dropped) against revisions of the same words."""
    t = [(0.0, 0.3), (0.3, 0.6), (0.6, 0.9), (0.9, 1.2)]

    def said(text: str) -> list[Word]:
        return _words(*((w, *t[i % 4]) for i, w in enumerate(text.split())))

    # A quiet phrase the next decode replaced with the loud voice after it.
    assert skipped(said("In the early middle"), said("the... Sunday is the"))
    # "Great," dropped from the window's start: the decode starts at the next agreed word.
    assert skipped(said("Great, let's do"), said("Let's do that, let's try the"))
    # Revisions: the words read alike.
    assert not skipped(said("a certificate"), said("as certificates have expired on 1."))
    assert not skipped(said("I did from about"), said("They did from about 300."))
    assert not skipped(said("adding up"), said("add in up about 15%."))
    assert not skipped(said("1115 and stays down"), said("11 15 and stays down for 40"))
    # Agreement kept, one word agreed, or an empty (rejected) decode: nothing to judge.
    assert not skipped(said("in the early"), said("in the early middle ages."))
    assert not skipped(said("Great,"), said("Let's do that."))
    assert not skipped(said("We decided"), [])


def test_a_stretch_said_once_more_and_followed_by_new_words_is_speech() -> None:
    # phone, 2026-12-07: two telephone prompts in a row. Cut as a loop, the second sentence
    # left the partial until the pause, and the first waited 3.2 s for its final.
    text = "locate the person you're calling. The person you're calling is not at their desk."
    assert _text(truncate_loops(_timed(text))) == text
    # Said twice and still going, or said again to the end of the decode: a loop.
    for looped, kept in [
        ("the person you're calling. The person you're calling. The person you're calling is",
         "the person you're calling."),
        ("Please try again. Please try again.", "Please try again."),
        ("Please try again. Please try again. It", "Please try again."),
    ]:  # fmt: skip
        assert _text(truncate_loops(_timed(looped))) == kept


def test_a_repeat_of_the_stable_words_is_dropped_however_its_numbers_are_written() -> None:
    stable = _words(("from", 0.0, 0.3), ("about", 0.3, 0.6), ("300", 0.6, 1.1), ("and", 1.1, 1.3))
    heard = _words(
        ("about", 1.3, 1.5), ("three", 1.5, 1.7), ("hundred", 1.7, 2.0), ("and", 2.0, 2.1),
        ("eight", 2.1, 2.4), ("hundred", 2.4, 2.7), ("ninety,", 2.7, 3.0),
    )  # fmt: skip
    assert [w.w for w in drop_overlap(stable, heard)] == ["eight", "hundred", "ninety,"]
    # The same words, spelled the same, as before.
    assert [w.w for w in drop_overlap(stable, _words(("and", 1.3, 1.4), ("eight", 1.4, 1.7)))] == [
        "eight"
    ]
    # New words, or a repeat well after the stable words ended, stay.
    assert len(drop_overlap(stable, heard[4:])) == 3
    late = [Word(w.w, w.t0 + 1.0, w.t1 + 1.0, w.conf) for w in heard]
    assert len(drop_overlap(stable, late)) == len(late)


def test_a_decode_after_forced_words_that_starts_by_saying_them_again() -> None:
    def said(text: str) -> list[Word]:
        return _words(*((w, 0.3 * i, 0.3 * i + 0.3) for i, w in enumerate(text.split())))

    held = said("from about 300 and")
    assert says_again(held, said("about three hundred a day to under ninety"))
    assert says_again(held, said("300 and a day"))
    assert not says_again(held, said("a day to under ninety"))
    assert not says_again(held, said("and eight"))  # one word is not a repeat
    assert not says_again(said("great, let's do"), said("that, let's try the"))


def test_numbers_written_two_ways_are_no_skip() -> None:
    def said(text: str) -> list[Word]:
        return _words(*((w, 0.3 * i, 0.3 * i + 0.3) for i, w in enumerate(text.split())))

    # voices-2: "300 and" agreed, then the next decode spelled it out.
    assert not skipped(said("300 and"), said("three hundred and eight hundred ninety"))
    assert not skipped(said("about 300 and"), said("about three hundred and eight"))
    # Spelled out, a dropped first word is still a skip.
    assert skipped(said("from about 300 and"), said("about three hundred and eight hundred"))
