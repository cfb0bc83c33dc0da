"""The escalation detectors on single utterances: triggers, vetoes, profile rules, order."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.escalation import BELOW_THRESHOLD, Hit, detect, scores
from frontdesk.escalation.detect import RULE_DECIDED, _Words
from frontdesk.profile import example_profile_text, parse_profile
from frontdesk.profile.policy import Escalation

DEFAULT = Escalation()
EXAMPLE = parse_profile(example_profile_text(), "<example>").escalation


def live(text: str, policy: Escalation = DEFAULT) -> list[Hit]:
    return [hit for hit in detect(text, policy) if hit.vetoed_by is None]


def first(text: str, policy: Escalation = DEFAULT) -> str:
    hits = live(text, policy)
    return hits[0].category if hits else "none"


def policy(**escalation: Any) -> Escalation:
    return Escalation.model_validate(escalation)


@pytest.mark.parametrize(("text", "category"), [
    ("my car is on fire in your lot", "emergency"),
    ("someone is hurt, please call an ambulance", "emergency"),
    ("I'm going to hurt you", "threat"),
    ("I know where the owner lives", "threat"),
    ("I want to kill myself", "self_harm"),
    ("I don't want to live anymore", "self_harm"),
    ("I'm going to sue your shop", "legal"),
    ("you'll hear from my attorney", "legal"),
    ("you stupid useless machine", "abuse"),
    ("you charged me twice for the same repair", "dispute"),
    ("I never authorized that work", "dispute"),
    ("I want my money back", "refund"),
    ("let me talk to a real person", "human"),
    ("do you have a loaner car", "out_of_scope"),
    ("can I book an oil change on Tuesday", "none"),
])
def test_each_category_fires(text: str, category: str) -> None:
    assert first(text, EXAMPLE) == category


@pytest.mark.parametrize(("text", "category", "cue"), [
    ("I'm not going to sue anyone, I just need brakes", "legal", "not"),
    ("no refund needed, it runs great now", "refund", "no"),
    ("nobody got hurt, the car just won't start", "emergency", "nobody"),
    ("I'm never calling a lawyer over this", "legal", "never"),
    ("I don't want to talk to a manager, just book me in", "human", "dont"),
    ("no need for a refund", "refund", "no need"),
])
def test_negation_vetoes_the_trigger_and_keeps_a_near_miss(
        text: str, category: str, cue: str) -> None:
    hits = detect(text, DEFAULT)
    assert not [h for h in hits if h.vetoed_by is None and h.category == category]
    assert any(h.category == category and h.vetoed_by == f"negation:{cue}" for h in hits)


def test_negation_does_not_reach_across_a_new_subject_or_clause() -> None:
    # "not happy" does not negate the refund that follows
    assert first("I'm not happy I want a refund") == "refund"
    assert first("no, I want a refund") == "refund"
    assert first("it won't stop bleeding") == "emergency"  # "won't stop" is no negation


@pytest.mark.parametrize(("text", "category", "idiom"), [
    ("I'd kill for you guys to fit me in today", "threat", "kill for"),
    ("I have a dead battery and my emergency brake sticks", "emergency", "emergency brake"),
    ("my lawyer friend recommended you", "legal", "lawyer friend"),
    ("what's your refund policy on parts", "refund", "refund policy"),
    ("can I speak to human resources about a fleet account", "human", "human resources"),
    ("sorry, I'm an idiot, I left my lights on", "abuse", "i'm an idiot"),
    ("I'm bleeding money on this car", "emergency", "bleeding money"),
])
def test_idioms_veto_overlapping_triggers(text: str, category: str, idiom: str) -> None:
    hits = detect(text, DEFAULT)
    assert first(text) == "none"
    vetoed = [h for h in hits if h.category == category and h.vetoed_by]
    assert vetoed and vetoed[0].vetoed_by == f"idiom:{idiom}"


@pytest.mark.parametrize("text", [
    "I'd kill for a Saturday slot",
    "these prices are killing me",
    "is the manager's special still on",
    "I'm not hurt, the car just won't start",
    "my brakes are dead",
    "the battery died overnight",
    "the smoke test found a vacuum leak",
    "I was in an accident last month, the car pulls left now",
    "do you give refunds if the part fails",
    "shoot me a text when it's ready",
    "can you beat their price",
    "I'm dying to get my car back",
    "my stupid car won't start",
])
def test_hard_negatives_stay_quiet(text: str) -> None:
    assert live(text, EXAMPLE) == []


def test_stt_style_text_without_punctuation_or_apostrophes() -> None:
    assert first("um im gonna uh sue you guys") == "legal"
    assert first("uh like i dont want to be alive anymore") == "self_harm"
    assert first("ILL COME DOWN THERE AND HURT YOU") == "threat"
    assert first("i’m going to sue") == "legal"  # typographic apostrophe
    # the apostrophe-less "dont" negates like "don't"
    assert first("i dont need a refund") == "none"


def test_evidence_is_the_matched_words_as_said() -> None:
    [hit] = live("Um, I'm going to SUE you people.")
    assert hit.rule == "legal.sue"
    assert hit.evidence == "SUE"
    [hit] = live("uh I'll, um, hurt you")
    assert hit.category == "threat"
    assert hit.evidence == "I'll, um, hurt you"  # fillers inside the span are kept as said


def test_live_hits_come_in_category_order_then_vetoed_ones() -> None:
    hits = detect("I want a refund or I'll sue, and nobody got hurt", DEFAULT)
    categories = [h.category for h in hits if h.vetoed_by is None]
    assert categories == ["legal", "refund"]
    assert hits[-1].category == "emergency" and hits[-1].vetoed_by == "negation:nobody"
    assert [h.vetoed_by is None for h in hits] == sorted(
        (h.vetoed_by is None for h in hits), reverse=True)


def test_rule_hits_carry_the_rule_confidence() -> None:
    [hit] = live("I'm going to sue you")
    assert 0.9 <= hit.confidence <= 0.99


def test_self_harm_is_not_a_threat_and_a_threat_is_not_self_harm() -> None:
    assert {h.category for h in live("I'm going to kill myself")} == {"self_harm"}
    assert {h.category for h in live("I'm going to kill you")} == {"threat"}


def test_profile_phrases_add_triggers() -> None:
    p = policy(rules={"legal": {"phrases": ["demand letter", "Ombudsman"]}})
    [hit] = live("I'm writing to the ombudsman about you", p)
    assert (hit.category, hit.rule, hit.evidence) == ("legal", "profile.legal", "ombudsman")
    assert first("I'm writing to the ombudsman") == "none"  # not without the profile
    # profile phrases are negated like built-in ones
    assert [h.vetoed_by for h in detect("I won't go to the ombudsman", p)] == ["negation:wont"]


def test_profile_unless_vetoes_overlapping_triggers() -> None:
    text = "is the fire in the grill out back still going"
    assert first(text) == "emergency"
    p = policy(rules={"emergency": {"unless": ["fire in the grill"]}})
    hits = detect(text, p)
    assert [(h.rule, h.vetoed_by) for h in hits] == [("emergency.fire", "unless:fire in the grill")]
    # an unless phrase that does not overlap the trigger leaves it alone
    p = policy(rules={"emergency": {"unless": ["out back"]}})
    assert first(text, p) == "emergency"


def test_a_disabled_category_never_hits() -> None:
    p = policy(rules={"refund": {"enabled": False}, "abuse": {"enabled": False}})
    assert detect("I want a refund you idiot", p) == []
    assert detect("no refund needed", p) == []  # not even as a near miss
    p = policy(rules={"legal": {"enabled": False, "phrases": ["ombudsman"]}})
    assert detect("my lawyer and the ombudsman", p) == []


def test_out_of_scope_topics_from_the_profile() -> None:
    [hit] = live("can you send a tow truck to Fifth Street", EXAMPLE)
    assert (hit.category, hit.rule, hit.evidence) == (
        "out_of_scope", "out_of_scope.towing", "tow truck")
    assert first("do you do paint work", EXAMPLE) == "out_of_scope"
    assert first("I don't need a tow, it drives fine", EXAMPLE) == "none"
    # the example profile's unless: a tow hitch is a repair, not towing
    assert first("can you check my tow hitch wiring", EXAMPLE) == "none"
    assert live("can you send a tow truck", DEFAULT) == []


def test_misunderstanding_is_never_detected_from_text() -> None:
    p = policy(rules={"misunderstanding": {"phrases": ["what"]}})
    assert detect("what? what? I don't understand", p) == []


def test_classifier_hits_only_where_no_rule_spoke() -> None:
    text = "please return what I paid for the service"  # no refund rule says this
    p = scores(text)["refund"]
    assert max(scores(text).values()) == p
    # thresholds set around the classifier's probability: it acts, or is audited
    low = policy(act_above=p - 0.01, near_miss_above=p - 0.02)
    hits = detect(text, low)
    assert [(h.rule, h.evidence, h.confidence) for h in hits] == [
        ("classifier.refund", text, p)]
    near = policy(act_above=p + 0.01, near_miss_above=p - 0.01)
    assert [(h.rule, h.vetoed_by) for h in detect(text, near)] == [
        ("classifier.refund", BELOW_THRESHOLD)]
    assert detect(text, policy(act_above=p + 0.01, near_miss_above=p + 0.01)) == []
    off = policy(rules={"refund": {"enabled": False}}, act_above=0.01, near_miss_above=0.01)
    assert not [h for h in detect(text, off) if h.category == "refund"]
    # a rule spoke for refund (even vetoed): the classifier stays out of it
    hits = detect("I don't want a refund", policy(act_above=0.01, near_miss_above=0.01))
    assert not [h for h in hits if h.rule == "classifier.refund"]


def test_a_live_rule_outranks_a_classifier_guess_for_another_category() -> None:
    # the profile's own phrase decides (human); the classifier's refund is only audited
    text = "pineapple, please return what I paid for the service"
    p = policy(rules={"human": {"phrases": ["pineapple"]}}, act_above=0.3,
               near_miss_above=0.2)
    assert scores(text)["refund"] >= 0.3
    hits = detect(text, p)
    assert [(h.rule, h.vetoed_by) for h in hits if h.vetoed_by is None] == [
        ("profile.human", None)]
    assert ("classifier.refund", RULE_DECIDED) in [(h.rule, h.vetoed_by) for h in hits]
    # without the rule the same guess acts
    alone = detect(text, policy(act_above=0.3, near_miss_above=0.2))
    assert alone[0].rule == "classifier.refund" and alone[0].vetoed_by is None


def test_empty_and_filler_only_text() -> None:
    assert detect("", DEFAULT) == []
    assert detect("um uh...", DEFAULT) == []


def test_words_map_back_to_the_original_text() -> None:
    words = _Words.of("Um, I DON'T know... uh, maybe?")
    assert words.words == ("i", "dont", "know", "maybe")
    assert words.clauses[2] != words.clauses[3]
    assert words.evidence(1, 3) == "DON'T know"


# --- generalization: families of phrasing, spoken forms, wider negation ----------------


@pytest.mark.parametrize(("text", "category"), [
    # dropped g, as callers say it and STT writes it
    ("theres smoke pourin out from under the dash", "emergency"),
    ("the whole engine bay is burnin", "emergency"),
    ("my buddy aint breathin", "emergency"),
    ("im thinkin about hurtin myself", "self_harm"),
    ("im comin over there with a bat", "threat"),
    # possessive and "is" contractions
    ("my grandpa's clutching his chest in your lobby", "emergency"),
    ("somebody's gonna get shot over this", "threat"),
    ("my legal team's gonna hear about this", "legal"),
    # paraphrase families
    ("a customer just collapsed by the counter", "emergency"),
    ("he's having a seizure on the floor", "emergency"),
    ("my son swallowed some antifreeze", "emergency"),
    ("the lift dropped and a mechanic is pinned", "emergency"),
    ("i swear i'll torch that garage", "threat"),
    ("you better hope i don't find your mechanic after work", "threat"),
    ("i'll set your shop on fire", "threat"),
    ("don't make me come down there", "threat"),
    ("everyone would be better off without me", "self_harm"),
    ("there's no reason for me to keep living", "self_harm"),
    ("i'm gonna take a whole bottle of my pills", "self_harm"),
    ("my solicitor will be in touch", "legal"),
    ("i'm reporting you to the attorney general", "legal"),
    ("this is going to arbitration", "legal"),
    ("i'm lawyering up", "legal"),
    ("you're gonna get served", "legal"),
    ("you're dumber than a box of rocks", "abuse"),
    ("you put in parts i never asked for", "dispute"),
    ("i want every penny back", "refund"),
    ("is the manager around", "human"),
    ("patch me through to a person", "human"),
    ("i'll hunt down whoever worked on my car", "threat"),
    ("i'm gonna ram my truck through your front window", "threat"),
    ("he better watch his back", "threat"),
    ("i bought a gun to use on myself", "self_harm"),
    ("i'm done living like this i'm gonna end it", "self_harm"),
    ("the smoke is so thick we can't see", "emergency"),
    ("i filed a complaint with the texas department of licensing", "legal"),
])
def test_paraphrase_families_fire(text: str, category: str) -> None:
    assert first(text, EXAMPLE) == category


@pytest.mark.parametrize("text", [
    "my car smells like rotten eggs when i drive",
    "there's a hissing noise from the radiator hose",
    "i locked my keys in the car",
    "my truck just rolled over two hundred thousand miles",
    "the exhaust is blowin thick black smoke",
    "the hose is crushed behind the engine",
    "my dad had a stroke last year so i'm handling his car",
    "the car isn't moving when i put it in drive",
    # (not "can someone help me with my bill": the sentence features read it as a possible
    # billing dispute, 0.69, and a message for the office is a fair answer to it)
    "i got hit with a flat on the highway",
    "my computer crashed and i lost your number",
    "i need to take my meds at noon so can we do eleven",
    "i'm not planning on being here next week so can we do monday",
    "i want it to stop making that noise",
    "i'm thinking about ending my lease early",
    "i'd be better off if i just bought a new car",
    "i'll cut you a check when i pick it up",
    "i'll come by and take care of the bill",
    "i'll be there with my truck at nine",
    "let's see what happens when you test drive it",
    "can i get a gun rack installed",
    "i'm a paralegal so i can only come at lunch",
    "i gotta get to court by eight can i drop it off at seven",
    "how much is it in labor",
    "it's worth every penny",
    "i burned my hand on the hood last week but i'm fine now",
    "is there someone there who can do an alignment today",
    "i'm gonna run my car into the shop tomorrow for brakes",
    "i had to hunt down a used transmission",
])
def test_new_hard_negatives_stay_quiet(text: str) -> None:
    assert live(text, EXAMPLE) == []


@pytest.mark.parametrize(("text", "category", "cue"), [
    ("no way I'd ever sue you guys", "legal", "no way"),
    ("not like it's an emergency or anything", "emergency", "not like"),
    ("not that I want to sue anybody", "legal", "not that"),
])
def test_clause_wide_negation_reaches_across_its_subject(
        text: str, category: str, cue: str) -> None:
    hits = detect(text, DEFAULT)
    assert not [h for h in hits if h.vetoed_by is None and h.category == category]
    assert any(h.category == category and h.vetoed_by == f"negation:{cue}" for h in hits)


def test_reversers_assert_rather_than_negate() -> None:
    assert first("I won't hesitate to sue") == "legal"
    assert first("I'm not afraid to call my lawyer") == "legal"
    assert first("don't make me come down there and hurt you") == "threat"


def test_retractions_and_insistence() -> None:
    hits = detect("I'll sue you, just kidding", DEFAULT)
    assert [h.vetoed_by for h in hits if h.category == "legal"] == ["retracted:just kidding"]
    assert first("I'll sue you, I'm not kidding") == "legal"
    assert first("I'll sue you, not even joking") == "legal"


def test_words_drop_possessive_s_but_keep_pronoun_contractions() -> None:
    assert _Words.of("my wife's water broke").words == ("my", "wife", "water", "broke")
    assert _Words.of("it's there's he's").words == ("its", "theres", "hes")


def test_profile_phrases_match_their_plural() -> None:
    [hit] = live("y'all do paint jobs", EXAMPLE)
    assert hit.rule == "out_of_scope.body-work"
