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

#: A meeting as people hold one: three voices, several sentences per turn spoken without a
#: pause between them, names and numbers. Each entry is (speaker, sentences of one turn).
TURNS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        0,
        (
            "Okay, let's get started.",
            "Priya, you had the numbers from the March release.",
        ),
    ),
    (
        1,
        (
            "Right, we had forty two thousand downloads in the first week.",
            "That is up about fifteen percent from January.",
            "Most of the growth came from Brazil and India.",
        ),
    ),
    (2, ("Did the crash reports go down as well?",)),
    (
        1,
        (
            "They did, from about three hundred a day to under ninety.",
            "The login bug was the big one.",
        ),
    ),
    (
        0,
        (
            "Good.",
            "Tom, where are we with the payment provider?",
        ),
    ),
    (
        2,
        (
            "We signed the contract on Thursday.",
            "The integration should take two sprints.",
            "I would like to move Daniel onto it from the mobile team.",
            "He built the old checkout, so he knows the code.",
        ),
    ),
    (
        0,
        (
            "That makes sense to me.",
            "What happens to the tablet layout then?",
        ),
    ),
    (2, ("It slips by a week, maybe two.",)),
    (
        1,
        (
            "I can take some of the tablet work.",
            "My queue is lighter after the seventh.",
        ),
    ),
    (
        0,
        (
            "Great, let's do that.",
            "Last item is the offsite in October.",
            "The hotel in Lisbon quoted eleven thousand euros for three nights.",
            "Please send me your travel dates by Friday.",
        ),
    ),
    (2, ("Is the budget approved already?",)),
    (
        0,
        (
            "Not yet, I will ask Susan tomorrow morning.",
            "Thanks everyone, see you next week.",
        ),
    ),
)

#: espeak-ng voices of the three speakers (voice, words per minute).
TURN_VOICES: tuple[tuple[str, int], ...] = (("en-us", 170), ("en-gb+f3", 180), ("en-us+m3", 160))

#: A second meeting, held out: written after the streaming settings were chosen, and never
#: used to choose them. A support team's stand-up in three other voices, with the same
#: shape (run-together sentences inside a turn, short replies, names, numbers and dates).
STANDUP_TURNS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        0,
        (
            "Morning, everyone.",
            "We have a lot to cover, so let's keep it short.",
            "Lucas, how did the weekend on call go?",
        ),
    ),
    (
        1,
        (
            "It was quiet until Sunday night.",
            "The billing service went down at eleven fifteen and stayed down for forty minutes.",
            "A certificate had expired on one of the load balancers.",
            "I renewed it by hand and wrote up the steps in the wiki.",
        ),
    ),
    (2, ("How many customers noticed?",)),
    (
        1,
        (
            "About two hundred, mostly in Canada.",
            "We sent them a short apology on Monday.",
        ),
    ),
    (
        0,
        (
            "Thank you for handling that.",
            "Can we make sure certificates renew on their own from now on?",
        ),
    ),
    (
        2,
        (
            "Yes, I can set that up this week.",
            "It needs a small change to the deployment scripts.",
            "I should have it ready for review by Wednesday afternoon.",
        ),
    ),
    (0, ("Perfect.",)),
    (
        0,
        (
            "Next, the ticket backlog.",
            "We closed three hundred and twelve tickets last week"
            " and opened two hundred and ninety.",
            "The queue is finally shrinking.",
        ),
    ),
    (
        1,
        (
            "That is good news.",
            "Most of the new ones are about the mobile login.",
        ),
    ),
    (
        2,
        (
            "The fix for that ships on the nineteenth.",
            "Until then, please point people to the help article.",
        ),
    ),
    (
        0,
        (
            "Sounds good.",
            "Last thing, Hannah starts on Monday, so please say hello.",
            "That's all from me.",
        ),
    ),
)

#: espeak-ng voices of the stand-up, none of them used by the other meetings.
STANDUP_VOICES: tuple[tuple[str, int], ...] = (("en-gb", 170), ("en-us+f2", 175), ("en-us+m5", 160))
