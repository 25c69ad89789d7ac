"""The benchmark recording: a short spoken meeting with natural pauses (about 108 s)."""

from __future__ import annotations

__all__ = ["MEETING_PAUSES", "MEETING_SENTENCES"]

MEETING_SENTENCES: tuple[str, ...] = (
    "Good morning everyone, thanks for joining the weekly planning meeting.",
    "Let's start with a quick look at last week's numbers.",
    "We shipped the new search page on Tuesday, and the feedback has been positive.",
    "Page load time dropped by about thirty percent.",
    "However, we still see errors on older phones.",
    "Maria, can you tell us what the support team is hearing?",
    "Most tickets are about password resets and billing questions.",
    "We answered nine out of ten within one day.",
    "That is great work, thank you.",
    "Next, I want to talk about the budget for the second quarter.",
    "We have enough money for two new laptops and one training course.",
    "The design team asked for a larger screen for video editing.",
    "I suggest we decide on that next week after we see the quotes.",
    "Does anyone have questions so far?",
    "Yes, when will the mobile app get the same search feature?",
    "We plan to release it at the end of next month.",
    "Testing will take about two weeks because we need real users.",
    "Please write down any problems you find and send them to me.",
    "Before we finish, remember that the office is closed on Friday.",
    "Our next meeting is at ten o'clock on Monday morning.",
    "One more thing, the new coffee machine arrives on Wednesday.",
    "If you have ideas for the team lunch, please send them to Paul.",
    "I will share the notes from this meeting later today.",
    "Thanks again, and have a good afternoon.",
)

#: Pause after each sentence (seconds): short hesitations, ordinary gaps, long silences.
# fmt: off
MEETING_PAUSES: tuple[float, ...] = (
    1.2, 0.8, 1.0, 0.7, 1.5, 1.0, 0.9, 2.5, 0.8, 1.1, 1.0, 0.7,
    1.4, 2.0, 0.9, 1.0, 0.8, 1.2, 1.0, 0.9, 1.3, 0.8, 1.1,
)
# fmt: on
